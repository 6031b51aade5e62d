import assert from "node:assert/strict";
import { createKvStore } from "../lib/storage/history.ts";
import {
  barrier,
  getPage,
  HIGH_RATE,
  loginOk,
  range,
  type ServerEvent,
  startServer,
  tempDir,
  texts,
} from "./helpers/harness.ts";

Deno.test("createKvStore() keeps exactly HISTORY_SIZE messages and numbers them by room", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = createKvStore(kv, { historySize: 5, ttlMs: 60_000 });
  const ts = Date.now();
  for (let i = 1; i <= 12; i++) {
    const [m] = await store.append("a", [{
      nickname: "n",
      text: `m${i}`,
      ts,
    }]);
    assert.equal(m.id, i);
  }
  const batch = await store.append(
    "a",
    [1, 2, 3].map((i) => ({ nickname: "n", text: `b${i}`, ts })),
  );
  assert.deepEqual(batch.map((m) => m.id), [13, 14, 15]);
  const stored = [];
  for await (const e of kv.list({ prefix: ["msg", "a"] })) {
    stored.push(e.key[2]);
  }
  assert.deepEqual(stored, [11, 12, 13, 14, 15]);
  assert.equal(await store.head("a"), 15);
  assert.equal(await store.head("b"), 0);
  const [other] = await store.append("b", [{ nickname: "n", text: "x", ts }]);
  assert.equal(other.id, 1);
  const recent = await store.recent("a", 3);
  assert.deepEqual(recent.messages.map((m) => m.id), [13, 14, 15]);
  assert.equal(recent.seq, 15);
  const { epoch } = recent;
  const since = await store.since("a", 12, epoch);
  assert.deepEqual(since.messages.map((m) => m.id), [13, 14, 15]);
  assert.equal(since.recovered, true);
  const gone = await store.since("a", 3, epoch);
  assert.equal(gone.recovered, false);
  assert.deepEqual(gone.messages.map((m) => m.id), [11, 12, 13, 14, 15]);
  assert.equal((await store.since("a", 15, epoch)).recovered, true);
  assert.equal((await store.since("a", 99, epoch)).recovered, false);
  // Ids without their epoch may be another stream's: start over.
  const unknown = await store.since("a", 12);
  assert.equal(unknown.recovered, false);
  assert.deepEqual(unknown.messages.map((m) => m.id), [11, 12, 13, 14, 15]);
  // Nothing seen needs no epoch.
  assert.equal((await store.since("a", 0)).recovered, false); // 1..10 trimmed
  assert.equal((await store.since("b", 0)).recovered, true);
});

Deno.test("createKvStore() stays exact when two stores append to one room at once", async () => {
  using kv = await Deno.openKv(":memory:");
  const a = createKvStore(kv, { historySize: 1000, ttlMs: 60_000 });
  const b = createKvStore(kv, { historySize: 1000, ttlMs: 60_000 });
  const ts = Date.now();
  const results = await Promise.all(
    Array.from(
      { length: 40 },
      (_, i) =>
        (i % 2 ? a : b).append("r", [{ nickname: "n", text: `t${i}`, ts }]),
    ),
  );
  const ids = results.flat().map((m) => m.id).sort((x, y) => x - y);
  assert.deepEqual(ids, Array.from({ length: 40 }, (_, i) => i + 1));
});

Deno.test("the welcome frame carries the last HISTORY_ON_JOIN messages and the room's seq", async () => {
  await using server = await startServer({ HISTORY_ON_JOIN: "3" });
  const a = await server.join("ann");
  for (let i = 1; i <= 5; i++) a.send({ type: "message", text: `m${i}` });
  await a.waitForText("m5");
  const b = await server.join("ben");
  assert.deepEqual(texts(b.welcome.history), ["m3", "m4", "m5"]);
  assert.deepEqual(b.welcome.history.map((m: ServerEvent) => m.id), [3, 4, 5]);
  assert.equal(b.welcome.seq, 5);
  assert.equal(b.welcome.recovered, true);
});

Deno.test("history survives a restart of the app over the same KV file", async () => {
  await using dir = await tempDir("chat-history-");
  const env = { KV_PATH: `${dir.path}/chat.db` };
  {
    await using first = await startServer(env);
    const c = await first.join("ann");
    c.send({ type: "message", text: "before restart" });
    await c.waitForText("before restart");
  }
  await using second = await startServer(env);
  const c = await second.join("bea");
  assert.deepEqual(texts(c.welcome.history), ["before restart"]);
  c.send({ type: "message", text: "after restart" });
  const m = await c.waitForText("after restart");
  assert.equal(m.id, 2);
});

Deno.test("a client resuming with since gets every message exactly once in order", async () => {
  await using server = await startServer(HIGH_RATE);
  const cookie = await loginOk(server, "reader");
  const writer = await server.join("writer");
  let reader = await server.joinWith(cookie);
  const seen: ServerEvent[] = [];
  const total = 300;
  let sent = 0;
  const sending = (async () => {
    while (sent < total) {
      writer.send({ type: "message", text: `n${++sent}` });
      if (sent % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
  })();
  // Drop the reader twice while the writer keeps going, resuming each time.
  for (const after of [60, 180]) {
    await reader.waitForText(`n${after}`);
    const got = reader.ofType("message");
    seen.push(...got);
    reader.socket.close();
    await reader.closed;
    const last = got.length ? got[got.length - 1].id : 0;
    reader = await server.joinWith(cookie, {
      since: last,
      epoch: reader.welcome.epoch,
    });
    assert.equal(reader.welcome.recovered, true);
    seen.push(...reader.welcome.history);
  }
  await sending;
  await reader.waitForText(`n${total}`);
  seen.push(...reader.ofType("message"));
  assert.deepEqual(seen.map((m) => m.id), range(1, total));
  assert.deepEqual(
    seen.map((m) => m.text),
    range(1, total).map((i) => `n${i}`),
  );
});

Deno.test("a resume older than the kept history says recovered: false", async () => {
  await using server = await startServer({
    HISTORY_SIZE: "5",
    HISTORY_ON_JOIN: "5",
    RATE_BURST: "1000",
  });
  const c = await server.join("old");
  for (let i = 1; i <= 10; i++) c.send({ type: "message", text: `m${i}` });
  await c.waitForText("m10");
  const { epoch } = c.welcome;
  const late = await server.join("late", { since: 2, epoch });
  assert.equal(late.welcome.recovered, false);
  assert.deepEqual(texts(late.welcome.history), [
    "m6",
    "m7",
    "m8",
    "m9",
    "m10",
  ]);
  const fine = await server.join("fine", { since: 7, epoch });
  assert.equal(fine.welcome.recovered, true);
  assert.deepEqual(texts(fine.welcome.history), ["m8", "m9", "m10"]);
});

Deno.test("a message retried with the same cid is posted once and confirmed with its id", async () => {
  await using server = await startServer();
  const cookie = await loginOk(server, "retry");
  const watcher = await server.join("w");
  const a = await server.joinWith(cookie);
  a.send({ type: "message", text: "once", cid: "c-1" });
  const first = await a.waitForText("once");
  await a.close();
  // The retry comes over a new socket, as after a dropped connection.
  const b = await server.joinWith(cookie, {
    since: first.id,
    epoch: a.welcome.epoch,
  });
  b.send({ type: "message", text: "once", cid: "c-1" });
  const again = await b.waitFor((e) => e.type === "message" && e.cid === "c-1");
  assert.equal(again.id, first.id);
  await barrier(b, [watcher]);
  assert.equal(texts(watcher.events).filter((t) => t === "once").length, 1);
});

Deno.test("rooms keep presence, messages and history separate", async () => {
  await using server = await startServer();
  const lobby = await server.join("ann");
  const annCookie = lobby.cookie;
  const dev = await server.joinWith(annCookie, { room: "dev-team" });
  const bob = await server.join("bob", { room: "dev-team" });
  assert.deepEqual(bob.welcome.users, ["ann", "bob"]);
  assert.equal(bob.welcome.room, "dev-team");
  bob.send({ type: "message", text: "dev only" });
  await dev.waitForText("dev only");
  lobby.send({ type: "message", text: "lobby only" });
  await lobby.waitForText("lobby only");
  assert.deepEqual(texts(lobby.events), ["lobby only"]);
  assert.deepEqual(texts(bob.events), ["dev only"]);
  const rooms = await (await fetch(`${server.url}/api/rooms`)).json();
  assert.deepEqual(rooms, [
    { name: "dev-team", users: 2, latest: 1 },
    { name: "lobby", users: 1, latest: 1 },
  ]);
  const page = await getPage(server, "/chat/Not_A_Room", annCookie);
  assert.equal(page.status, 404);
  const devPage = await getPage(server, "/chat/dev-team", annCookie);
  assert.equal(devPage.status, 200);
});

Deno.test("typing events reach the others in the room and are never stored", async () => {
  await using server = await startServer();
  const a = await server.join("typist");
  const b = await server.join("reader");
  a.send({ type: "typing" });
  const t = await b.waitFor((e) => e.type === "typing");
  assert.equal(t.nickname, "typist");
  a.send({ type: "message", text: "done" });
  await b.waitForText("done");
  const c = await server.join("late");
  assert.deepEqual(c.welcome.history.map((m: ServerEvent) => m.type), [
    "message",
  ]);
});
