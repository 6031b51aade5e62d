/**
 * Edits, deletions, reactions and replies as events in the room's
 * sequence: a resume with `since` replays them once, history shows each
 * message's latest state after a restart, and two instances over one KV
 * see each other's changes.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  barrier,
  HIGH_RATE,
  type ServerEvent,
  startPair,
  startServer,
  tempDir,
  TestClient,
} from "./helpers/harness.ts";
import { change, changes, post, refused } from "./helpers/changes.ts";
import { exportKv, importKv } from "../lib/storage/backup.ts";

Deno.test("a reply carries a quote of its original, which history keeps up to date", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const bob = await server.join("bob");
  const long = "x".repeat(150);
  const original = await post(ann, long);
  const reply = await post(bob, "agreed", { replyTo: original.id, cid: "r1" });
  assert.equal(reply.replyTo, original.id);
  assert.deepEqual(reply.reply, {
    id: original.id,
    nickname: "ann",
    text: "x".repeat(100),
  });
  await ann.waitFor((e) => e.type === "message" && e.text === "agreed");
  await change(
    ann,
    { type: "edit", target: original.id, text: "short now" },
    "edit",
  );
  const cara = await server.join("cara");
  const [, shown] = cara.welcome.history;
  assert.equal(shown.reply.text, "short now");
  assert.equal(shown.replyTo, original.id);
});

Deno.test("resume with since replays edits, deletions and reactions exactly once", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  let bob = await server.join("bob");
  const m = await post(ann, "first");
  const other = await post(ann, "second");
  await bob.waitFor((e) => e.type === "message" && e.id === other.id);
  const { epoch } = bob.welcome;
  const since = other.id;
  await bob.close();
  await ann.waitForNotice("leave", "bob");
  await change(ann, { type: "edit", target: m.id, text: "first!" }, "edit");
  await change(ann, { type: "react", target: m.id, emoji: "👍" }, "reaction");
  await change(ann, { type: "delete", target: other.id }, "delete");
  const third = await post(ann, "third");
  bob = await server.joinWith(bob.cookie, { since, epoch });
  const replay = bob.welcome.history.map((e: ServerEvent) => [e.type, e.id]);
  assert.deepEqual(replay, [
    ["edit", since + 1],
    ["reaction", since + 2],
    ["delete", since + 3],
    ["message", third.id],
  ]);
  assert.equal(bob.welcome.recovered, true);
  // Live events follow the replay with no gap and nothing twice.
  await change(ann, { type: "react", target: m.id, emoji: "👍" }, "reaction");
  await barrier(ann, [bob]);
  const ids = bob.events.filter((e) => e.type !== "welcome" && e.id)
    .map((e) => e.id);
  const all = [...bob.welcome.history.map((e: ServerEvent) => e.id), ...ids];
  assert.deepEqual(all, [...new Set(all)].sort((a, b) => a - b));
  assert.deepEqual(all.slice(0, 5), [3, 4, 5, 6, 7]);
  // Resuming from the last change replays only what came after it.
  const tab = await server.joinWith(bob.cookie, { since: since + 3, epoch });
  assert.deepEqual(
    tab.welcome.history.map((e: ServerEvent) => e.id).slice(0, 2),
    [third.id, third.id + 1],
  );
});

Deno.test("history shows each message's latest state after a restart over the same KV file", async () => {
  await using dir = await tempDir("chat-events-");
  const env = { ...HIGH_RATE, KV_PATH: `${dir.path}/chat.db` };
  let annCookie = "";
  {
    await using first = await startServer(env);
    const ann = await first.join("ann");
    annCookie = ann.cookie;
    const bob = await first.join("bob");
    const a = await post(ann, "typo");
    const b = await post(ann, "regret");
    await post(bob, "answer", { replyTo: a.id });
    await change(ann, { type: "edit", target: a.id, text: "fixed" }, "edit");
    await change(ann, { type: "delete", target: b.id }, "delete");
    await change(bob, { type: "react", target: a.id, emoji: "❤️" }, "reaction");
  }
  await using second = await startServer(env);
  const cara = await second.join("cara");
  assert.deepEqual(
    cara.welcome.history.map((m: ServerEvent) => ({ ...m, ts: 0 })),
    [
      {
        type: "message",
        id: 1,
        nickname: "ann",
        text: "fixed",
        ts: 0,
        edited: true,
        reactions: { "❤️": ["bob"] },
      },
      {
        type: "message",
        id: 2,
        nickname: "ann",
        text: "",
        ts: 0,
        deleted: true,
        deletedBy: "author",
      },
      {
        type: "message",
        id: 3,
        nickname: "bob",
        text: "answer",
        ts: 0,
        replyTo: 1,
        reply: { id: 1, nickname: "ann", text: "fixed" },
      },
    ],
  );
  assert.equal(cara.welcome.seq, 6);
  // The author's session still owns the message after the restart.
  const ann = await TestClient.join(second, annCookie);
  const edit = await change(
    ann,
    { type: "edit", target: 1, text: "fixed twice" },
    "edit",
  );
  assert.equal(edit.id, 7);
  assert.equal(
    (await refused(cara, { type: "delete", target: 1 })).code,
    "forbidden",
  );
});

Deno.test("two instances over one KV with the kv bus see each other's edits, deletions and reactions", async () => {
  await using pair = await startPair({ ...HIGH_RATE, BUS: "kv" });
  const { a, b } = pair;
  const ann = await a.join("ann");
  const bob = await b.join("bob");
  const m = await post(ann, "from a");
  await bob.waitFor((e) => e.type === "message" && e.id === m.id);
  const edit = await change(
    ann,
    { type: "edit", target: m.id, text: "edited on a" },
    "edit",
  );
  assert.deepEqual(await bob.waitFor((e) => e.type === "edit"), edit);
  const r = await change(
    bob,
    { type: "react", target: m.id, emoji: "👍" },
    "reaction",
  );
  assert.deepEqual(await ann.waitFor((e) => e.type === "reaction"), r);
  // Bob cannot change ann's message from his instance, nor anyone by name.
  const denied = await refused(bob, { type: "delete", target: m.id });
  assert.equal(denied.code, "forbidden");
  // Ann's session may, from the other instance.
  const annOnB = await b.joinWith(ann.cookie);
  const del = await change(annOnB, { type: "delete", target: m.id }, "delete");
  assert.deepEqual(
    await ann.waitFor((e) => e.type === "delete"),
    del,
  );
  await bob.waitFor((e) => e.type === "delete");
  for (const c of [ann, bob]) {
    assert.deepEqual(changes(c).map((e) => e.id), [
      m.id + 1,
      m.id + 2,
      m.id + 3,
    ]);
  }
  const late = await a.join("late");
  assert.equal(late.welcome.history[0].deleted, true);
});

async function* linesOf(lines: string[]): AsyncIterable<string> {
  yield* lines;
}

Deno.test("kv-export and kv-import carry edits, deletions, reactions, replies and authors", async () => {
  const source = await Deno.openKv(":memory:");
  const target = await Deno.openKv(":memory:");
  try {
    let cookie = "";
    let before: ServerEvent[] = [];
    {
      await using server = await startServer(HIGH_RATE, { kv: source });
      const ann = await server.join("ann");
      cookie = ann.cookie;
      const a = await post(ann, "first");
      const b = await post(ann, "second");
      await post(ann, "a reply", { replyTo: a.id });
      await change(ann, { type: "edit", target: a.id, text: "1st" }, "edit");
      await change(
        ann,
        { type: "react", target: a.id, emoji: "🎉" },
        "reaction",
      );
      await change(ann, { type: "delete", target: b.id }, "delete");
      before = (await server.join("bob")).welcome.history;
    }
    const lines: string[] = [];
    await exportKv(source, (line) => {
      lines.push(line);
    });
    const kinds = lines.map((l) => JSON.parse(l).extra?.kind).filter(Boolean);
    assert.deepEqual(kinds, ["edit", "reaction", "delete"]);
    const summary = await importKv(target, linesOf(lines), {
      messageTtlMs: 86_400_000,
      revocationTtlMs: 86_400_000,
    });
    assert.equal(summary.written, 6);
    await using moved = await startServer(HIGH_RATE, { kv: target });
    const cara = await moved.join("cara");
    assert.deepEqual(cara.welcome.history, before);
    assert.equal(before[0].text, "1st");
    // The author's session still owns the message on the restored store.
    const ann = await TestClient.join(moved, cookie);
    const edit = await change(
      ann,
      { type: "edit", target: 1, text: "one" },
      "edit",
    );
    assert.equal(edit.type, "edit");
  } finally {
    source.close();
    target.close();
  }
});
