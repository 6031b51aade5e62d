/**
 * Edits, deletions, reactions and replies through real sockets: who may
 * make them (the author's session, members of the room), what everyone
 * sees live, and how refusals are answered and limited.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  barrier,
  HIGH_RATE,
  logout,
  type ServerEvent,
  startServer,
  tempDir,
  type TestClient,
} from "./helpers/harness.ts";
import {
  change,
  changes,
  expectRefused,
  post,
  refused,
  slowRate,
  withoutTs,
} from "./helpers/changes.ts";
import { KEYS } from "../lib/storage/keys.ts";

Deno.test("an author edits their message: everyone sees the edit, and history the latest text", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const bob = await server.join("bob");
  const m = await post(ann, "helo");
  const edit = await change(
    ann,
    { type: "edit", target: m.id, text: "  hello  ", cid: "e1" },
    "edit",
  );
  assert.deepEqual(withoutTs(edit), {
    type: "edit",
    id: m.id + 1,
    target: m.id,
    text: "hello",
    nickname: "ann",
    cid: "e1",
  });
  const seen = await bob.waitFor((e) => e.type === "edit");
  assert.deepEqual(seen, edit);
  const cara = await server.join("cara");
  assert.deepEqual(
    cara.welcome.history.map((e: ServerEvent) => [e.text, e.edited]),
    [["hello", true]],
  );
  assert.equal(cara.welcome.seq, m.id + 1);
  // Nothing the server keeps to check the author reaches a client.
  assert.ok(!JSON.stringify(cara.frames).includes("owner"));
});

Deno.test("editing or deleting someone else's message is forbidden and reaches nobody", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const mallory = await server.join("mallory");
  const m = await post(ann, "mine");
  const edit = { type: "edit", target: m.id, text: "pwned" };
  await expectRefused(mallory, edit, "forbidden");
  await expectRefused(mallory, { type: "delete", target: m.id }, "forbidden");
  await barrier(mallory, [ann, mallory]);
  assert.deepEqual(changes(ann), []);
  const late = await server.join("late");
  const [shown] = late.welcome.history;
  assert.deepEqual([shown.text, shown.edited, shown.deleted], [
    "mine",
    undefined,
    undefined,
  ]);
});

Deno.test("taking an author's nickname after they left gives no right to their messages", async () => {
  await using server = await startServer(HIGH_RATE);
  const watcher = await server.join("watcher");
  const ann = await server.join("ann");
  const m = await post(ann, "said by the first ann");
  await ann.close();
  assert.equal((await logout(server, ann.cookie)).status, 303);
  await watcher.waitForNotice("leave", "ann");
  // Logout frees the name at once: someone else logs in as "ann".
  const impostor = await server.join("ann");
  assert.equal(impostor.nickname, "ann");
  for (
    const frame of [
      { type: "edit", target: m.id, text: "said by the second ann" },
      { type: "delete", target: m.id },
    ]
  ) {
    assert.equal((await refused(impostor, frame)).code, "forbidden");
  }
  await barrier(impostor, [watcher]);
  assert.deepEqual(changes(watcher), []);
});

Deno.test("the same session may edit from another tab; an edit past EDIT_WINDOW_MINUTES is refused", async () => {
  await using dir = await tempDir("chat-events-");
  const kv = await Deno.openKv(`${dir.path}/chat.db`);
  try {
    await using server = await startServer(HIGH_RATE, { kv });
    const ann = await server.join("ann");
    const old = await post(ann, "an old message");
    const recent = await post(ann, "a recent one");
    // Backdate the first as if posted 16 minutes ago (the default window
    // is 15): the clock is the only thing simulated.
    const key = KEYS.message("lobby", old.id);
    const stored = await kv.get<{ ts: number }>(key);
    await kv.set(key, { ...stored.value, ts: Date.now() - 16 * 60_000 });
    const closed = await refused(ann, {
      type: "edit",
      target: old.id,
      text: "too late",
    });
    assert.equal(closed.code, "edit_window_closed");
    const tab = await server.joinWith(ann.cookie);
    const edit = await change(
      tab,
      { type: "edit", target: recent.id, text: "in time" },
      "edit",
    );
    assert.equal(edit.type, "edit");
    await ann.waitFor((e) => e.type === "edit" && e.text === "in time");
  } finally {
    kv.close();
  }
});

Deno.test("EDIT_WINDOW_MINUTES=0 turns editing off, while deleting still works", async () => {
  await using server = await startServer({
    ...HIGH_RATE,
    EDIT_WINDOW_MINUTES: "0",
  });
  const ann = await server.join("ann");
  const m = await post(ann, "final");
  const edit = await refused(ann, { type: "edit", target: m.id, text: "x" });
  assert.equal(edit.code, "edit_window_closed");
  const del = await change(ann, { type: "delete", target: m.id }, "delete");
  assert.equal(del.type, "delete");
});

Deno.test("an author deletes a message: a tombstone in history, and nothing more can change it", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const bob = await server.join("bob");
  const m = await post(ann, "oops, a password");
  await change(bob, { type: "react", target: m.id, emoji: "😮" }, "reaction");
  const del = await change(ann, { type: "delete", target: m.id }, "delete");
  assert.deepEqual(
    { type: del.type, target: del.target, by: del.by, id: del.id },
    { type: "delete", target: m.id, by: "author", id: m.id + 2 },
  );
  await bob.waitFor((e) => e.type === "delete" && e.target === m.id);
  for (
    const frame of [
      { type: "edit", target: m.id, text: "again" },
      { type: "delete", target: m.id },
      { type: "react", target: m.id, emoji: "👍" },
      { type: "message", text: "re", replyTo: m.id },
    ]
  ) {
    assert.equal((await refused(ann, frame)).code, "not_found");
  }
  const cara = await server.join("cara");
  const [tomb] = cara.welcome.history;
  assert.deepEqual(tomb, {
    type: "message",
    id: m.id,
    nickname: "ann",
    text: "",
    ts: m.ts,
    deleted: true,
    deletedBy: "author",
  });
  assert.ok(!cara.frames[0].includes("password"));
});

Deno.test("reactions toggle per person, count in history, and take any single emoji", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const bob = await server.join("bob");
  const cara = await server.join("cara");
  const m = await post(ann, "ship it?");
  const react = (c: TestClient, emoji: string) =>
    change(c, { type: "react", target: m.id, emoji }, "reaction");
  const on = await react(bob, "👍");
  assert.deepEqual(withoutTs(on), {
    type: "reaction",
    id: m.id + 1,
    target: m.id,
    emoji: "👍",
    nickname: "bob",
    on: true,
  });
  assert.equal((await react(cara, "👍")).on, true);
  assert.equal((await react(ann, "🦀")).on, true);
  assert.equal((await react(ann, "👨‍👩‍👧")).on, true);
  assert.equal((await react(bob, "👍")).on, false);
  assert.equal((await react(bob, "👍")).on, true);
  assert.equal((await react(ann, "👨‍👩‍👧")).on, false);
  // Everyone got each of the seven, in the same order.
  await cara.waitFor((e) => e.type === "reaction" && e.id === m.id + 7);
  const seen = (c: TestClient) =>
    changes(c).map((e) => `${e.nickname}${e.emoji}${e.on}`);
  assert.deepEqual(seen(ann), seen(cara));
  assert.equal(seen(ann).length, 7);
  const dan = await server.join("dan");
  assert.deepEqual(dan.welcome.history[0].reactions, {
    "👍": ["cara", "bob"],
    "🦀": ["ann"],
  });
});

Deno.test("a reaction that is not exactly one emoji is refused and reaches nobody", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const bob = await server.join("bob");
  const m = await post(ann, "react to me");
  for (const emoji of ["👍👍", "ok", "", "👍 ", "1", "<b>", 7]) {
    const error = await refused(bob, { type: "react", target: m.id, emoji });
    assert.equal(error.code, "bad_request", JSON.stringify(emoji));
  }
  await barrier(bob, [ann]);
  assert.deepEqual(changes(ann), []);
});

Deno.test("a message takes at most 20 distinct emoji", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const m = await post(ann, "a popular message");
  const emoji = [..."😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙🥲😚🙂"];
  assert.equal(emoji.length, 20);
  for (const e of emoji) ann.send({ type: "react", target: m.id, emoji: e });
  await ann.waitFor((e) => e.type === "reaction" && e.emoji === "🙂");
  const over = await refused(ann, { type: "react", target: m.id, emoji: "🤗" });
  assert.equal(over.code, "too_many_reactions");
  // One already there still toggles.
  const off = await change(
    ann,
    { type: "react", target: m.id, emoji: "😀" },
    "reaction",
  );
  assert.equal(off.on, false);
});

Deno.test("reacting to a message of a room you are not in finds nothing there", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const outsider = await server.join("eve", { room: "elsewhere" });
  const m = await post(ann, "lobby only");
  const react = { type: "react", target: m.id, emoji: "👍" };
  await expectRefused(outsider, react, "not_found");
  await expectRefused(outsider, { type: "delete", target: m.id }, "not_found");
  await barrier(ann);
  assert.deepEqual(changes(ann), []);
  assert.deepEqual(changes(outsider), []);
});

Deno.test("bad and unknown target ids are refused with stable codes", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const m = await post(ann, "target");
  const r = await change(
    ann,
    { type: "react", target: m.id, emoji: "🎉" },
    "reaction",
  );
  const cases: [unknown, string][] = [
    [0, "bad_request"],
    [-1, "bad_request"],
    [1.5, "bad_request"],
    ["1", "bad_request"],
    [null, "bad_request"],
    [2 ** 53, "bad_request"],
    [999, "not_found"],
    // A reaction has an id, but it is not a message.
    [r.id, "not_found"],
  ];
  for (const [target, code] of cases) {
    const error = await refused(ann, { type: "edit", target, text: "x" });
    assert.equal(error.code, code, JSON.stringify(target));
    assert.equal(typeof error.message, "string");
  }
  const reply = await refused(ann, {
    type: "message",
    text: "re",
    replyTo: 999,
  });
  assert.equal(reply.code, "not_found");
});

Deno.test("a flood of forbidden edits is closed with 1008: each takes a token and a strike", async () => {
  await using server = await startServer(slowRate(1));
  const ann = await server.join("ann");
  const m = await post(ann, "mine");
  const mallory = await server.join("mallory");
  for (let i = 0; i < 10; i++) {
    mallory.send({ type: "edit", target: m.id, text: `x${i}` });
  }
  assert.equal((await mallory.closed).code, 1008);
  assert.deepEqual(changes(ann), []);
});

Deno.test("edits and reactions take tokens from the rate limit", async () => {
  await using server = await startServer(slowRate(3));
  const ann = await server.join("ann");
  const m = await post(ann, "one");
  ann.send({ type: "react", target: m.id, emoji: "👍" });
  ann.send({ type: "edit", target: m.id, text: "two" });
  const limited = await refused(ann, {
    type: "react",
    target: m.id,
    emoji: "🎉",
  });
  assert.equal(limited.code, "rate_limited");
  assert.equal(typeof limited.retryAfter, "number");
  await ann.waitFor((e) => e.type === "edit");
  assert.deepEqual(changes(ann).map((e) => e.type), ["reaction", "edit"]);
});
