// A moderator removes anyone's message as an event in the room's sequence;
// nobody else can, whatever the frame claims; reactions belong to the
// session that made them, not to whoever holds the name next.
import assert from "node:assert/strict";
import {
  eventually,
  getPage,
  logout,
  startServer,
  type TestClient,
} from "./helpers/harness.ts";
import { joinAsModerator, MOD_ENV, moderate } from "./helpers/moderation.ts";
import { change, expectRefused, post, refused } from "./helpers/changes.ts";

async function scrollback(
  server: { origin: string },
  client: TestClient,
): Promise<Record<string, unknown>[]> {
  const page = await getPage(
    server,
    "/api/rooms/lobby/messages",
    client.cookie,
  );
  assert.equal(page.status, 200);
  return JSON.parse(page.body).messages;
}

Deno.test("a moderator deletes anyone's message: everyone sees it, history keeps it, the audit log names it", async () => {
  await using server = await startServer(MOD_ENV);
  await using bob = await server.join("bob");
  await using mod = await joinAsModerator(server);
  const message = await post(bob, "spam spam spam");
  const from = bob.events.length;
  const ok = await moderate(mod, {
    action: "delete",
    target: message.id,
    reason: "spam",
  });
  assert.equal(ok.type, "mod_ok", JSON.stringify(ok));
  const seen = await bob.waitFor((e) => e.type === "delete", { from });
  assert.equal(seen.target, message.id);
  assert.equal(seen.by, "moderator");
  // A newcomer's history and scrollback show the removal, not the text.
  await using late = await server.join("late");
  const inWelcome = (late.welcome!.history as Record<string, unknown>[])
    .find((m) => m.id === message.id)!;
  assert.equal(inWelcome.deleted, true);
  assert.equal(inWelcome.deletedBy, "moderator");
  assert.ok(!JSON.stringify(inWelcome).includes("spam spam"));
  const stored = (await scrollback(server, late)).find((m) =>
    m.id === message.id
  )!;
  assert.equal(stored.deletedBy, "moderator");
  await eventually(async () => {
    const audit = await getPage(server, "/api/audit", mod.cookie);
    const entries = JSON.parse(audit.body).entries as Record<string, unknown>[];
    return entries.some((e) =>
      e.action === "delete" && e.message === message.id && e.reason === "spam"
    );
  });
});

Deno.test("nobody but a moderator removes another's message, whatever the frame says", async () => {
  await using server = await startServer(MOD_ENV);
  await using bob = await server.join("bob");
  await using eve = await server.join("eve");
  const message = await post(bob, "mine");
  const asMod = await refused(eve, {
    type: "mod",
    action: "delete",
    target: message.id,
  });
  assert.equal(asMod.code, "forbidden");
  assert.equal(asMod.action, "delete");
  // A plain delete is a change of one's own: its refusal names no action
  const plain = await refused(eve, { type: "delete", target: message.id });
  assert.equal(plain.code, "forbidden");
  assert.equal(plain.action, undefined);
  // `by` is the server's to set: a frame carrying it is not understood.
  await expectRefused(eve, {
    type: "delete",
    target: message.id,
    by: "moderator",
  }, "bad_request");
  const stored = (await scrollback(server, bob)).find((m) =>
    m.id === message.id
  )!;
  assert.equal(stored.text, "mine");
  assert.equal(stored.deleted, undefined);
  assert.equal(bob.ofType("delete").length, 0);
});

Deno.test("a reaction belongs to its session: the next holder of the name cannot take it off", async () => {
  await using server = await startServer({
    ...MOD_ENV,
    NICK_GRACE_SECONDS: "0",
  });
  await using bob = await server.join("bob");
  const message = await post(bob, "react to me");
  const ann = await server.join("ann");
  const on = await change(
    ann,
    { type: "react", target: message.id, emoji: "👍" },
    "reaction",
  );
  assert.equal(on.on, true);
  await ann.close();
  assert.equal((await logout(server, ann.cookie)).status, 303);
  // Logout freed the name at once: someone else takes it.
  await using impostor = await server.join("ann");
  const again = await change(
    impostor,
    { type: "react", target: message.id, emoji: "👍" },
    "reaction",
  );
  // A new reaction of its own, not the first ann's taken away.
  assert.equal(again.on, true);
  const stored = (await scrollback(server, bob)).find((m) =>
    m.id === message.id
  )!;
  const reactions = stored.reactions as Record<string, string[]>;
  assert.equal(reactions["👍"].length, 2);
  // The session hash that decides this is never sent.
  for (const frame of [...bob.frames, ...impostor.frames]) {
    assert.ok(!frame.includes("owner"), frame.slice(0, 200));
  }
});

Deno.test("a muted user can neither react nor edit", async () => {
  await using server = await startServer(MOD_ENV);
  await using bob = await server.join("bob");
  await using mod = await joinAsModerator(server);
  const own = await post(bob, "before the mute");
  const muted = await moderate(mod, {
    action: "mute",
    nickname: "bob",
    duration: "10m",
  });
  assert.equal(muted.type, "mod_ok", JSON.stringify(muted));
  await eventually(() =>
    bob.events.some((e) => e.type === "room" && e.mutedUntil !== undefined)
  );
  await expectRefused(
    bob,
    { type: "react", target: own.id, emoji: "👍" },
    "muted",
  );
  await expectRefused(
    bob,
    { type: "edit", target: own.id, text: "after" },
    "muted",
  );
});
