import assert from "node:assert/strict";
import { createKvStore } from "../lib/storage/history.ts";
import { loginOk, startServer, TestClient } from "./helpers/harness.ts";

// deno-lint-ignore no-explicit-any
type Event = any;

function texts(events: Event[]): string[] {
  return events.filter((e) => e.type === "message").map((e) => e.text);
}

Deno.test("createKvStore() keeps exactly HISTORY_SIZE messages and numbers them by room", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
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
    const since = await store.since("a", 12);
    assert.deepEqual(since.messages.map((m) => m.id), [13, 14, 15]);
    assert.equal(since.recovered, true);
    const gone = await store.since("a", 3);
    assert.equal(gone.recovered, false);
    assert.deepEqual(gone.messages.map((m) => m.id), [11, 12, 13, 14, 15]);
    assert.equal((await store.since("a", 15)).recovered, true);
    assert.equal((await store.since("a", 99)).recovered, false);
  } finally {
    kv.close();
  }
});

Deno.test("createKvStore() stays exact when two stores append to one room at once", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
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
  } finally {
    kv.close();
  }
});

Deno.test("the welcome frame carries the last HISTORY_ON_JOIN messages and the room's seq", async () => {
  const server = await startServer({ HISTORY_ON_JOIN: "3" });
  try {
    const a = await TestClient.join(server, await loginOk(server, "ann"));
    for (let i = 1; i <= 5; i++) a.send({ type: "message", text: `m${i}` });
    await a.waitForText("m5");
    const b = await TestClient.join(server, await loginOk(server, "ben"));
    assert.deepEqual(texts(b.welcome.history), ["m3", "m4", "m5"]);
    assert.deepEqual(b.welcome.history.map((m: Event) => m.id), [3, 4, 5]);
    assert.equal(b.welcome.seq, 5);
    assert.equal(b.welcome.recovered, true);
    await a.close();
    await b.close();
  } finally {
    await server.close();
  }
});

Deno.test("history survives a restart of the app over the same KV file", async () => {
  const dir = await Deno.makeTempDir();
  const env = { KV_PATH: `${dir}/chat.db` };
  try {
    const first = await startServer(env);
    try {
      const c = await TestClient.join(first, await loginOk(first, "ann"));
      c.send({ type: "message", text: "before restart" });
      await c.waitForText("before restart");
      await c.close();
    } finally {
      await first.close();
    }
    const second = await startServer(env);
    try {
      const c = await TestClient.join(second, await loginOk(second, "bea"));
      assert.deepEqual(texts(c.welcome.history), ["before restart"]);
      c.send({ type: "message", text: "after restart" });
      const m = await c.waitForText("after restart");
      assert.equal(m.id, 2);
      await c.close();
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a client resuming with since gets every message exactly once in order", async () => {
  const server = await startServer({
    RATE_BURST: "100000",
    RATE_PER_SECOND: "100000",
  });
  try {
    const cookie = await loginOk(server, "reader");
    const writer = await TestClient.join(
      server,
      await loginOk(server, "writer"),
    );
    let reader = await TestClient.join(server, cookie);
    const seen: Event[] = [];
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
      reader = await TestClient.join(server, cookie, { since: last });
      assert.equal(reader.welcome.recovered, true);
      seen.push(...reader.welcome.history);
    }
    await sending;
    await reader.waitForText(`n${total}`);
    seen.push(...reader.ofType("message"));
    assert.deepEqual(
      seen.map((m) => m.id),
      Array.from({ length: total }, (_, i) => i + 1),
    );
    assert.deepEqual(
      seen.map((m) => m.text),
      Array.from({ length: total }, (_, i) => `n${i + 1}`),
    );
    await reader.close();
    await writer.close();
  } finally {
    await server.close();
  }
});

Deno.test("a resume older than the kept history says recovered: false", async () => {
  const server = await startServer({
    HISTORY_SIZE: "5",
    HISTORY_ON_JOIN: "5",
    RATE_BURST: "1000",
  });
  try {
    const c = await TestClient.join(server, await loginOk(server, "old"));
    for (let i = 1; i <= 10; i++) c.send({ type: "message", text: `m${i}` });
    await c.waitForText("m10");
    const late = await TestClient.join(server, await loginOk(server, "late"), {
      since: 2,
    });
    assert.equal(late.welcome.recovered, false);
    assert.deepEqual(texts(late.welcome.history), [
      "m6",
      "m7",
      "m8",
      "m9",
      "m10",
    ]);
    const fine = await TestClient.join(server, await loginOk(server, "fine"), {
      since: 7,
    });
    assert.equal(fine.welcome.recovered, true);
    assert.deepEqual(texts(fine.welcome.history), ["m8", "m9", "m10"]);
    await Promise.all([c.close(), late.close(), fine.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("a message retried with the same cid is posted once and confirmed with its id", async () => {
  const server = await startServer();
  try {
    const cookie = await loginOk(server, "retry");
    const watcher = await TestClient.join(server, await loginOk(server, "w"));
    const a = await TestClient.join(server, cookie);
    a.send({ type: "message", text: "once", cid: "c-1" });
    const first = await a.waitForText("once");
    await a.close();
    // The retry comes over a new socket, as after a dropped connection.
    const b = await TestClient.join(server, cookie, { since: first.id });
    b.send({ type: "message", text: "once", cid: "c-1" });
    const again = await b.waitFor((e) =>
      e.type === "message" && e.cid === "c-1"
    );
    assert.equal(again.id, first.id);
    b.send({ type: "message", text: "barrier" });
    await watcher.waitForText("barrier");
    assert.equal(texts(watcher.events).filter((t) => t === "once").length, 1);
    await b.close();
    await watcher.close();
  } finally {
    await server.close();
  }
});

Deno.test("rooms are separate: presence, messages and history per room", async () => {
  const server = await startServer();
  try {
    const annCookie = await loginOk(server, "ann");
    const lobby = await TestClient.join(server, annCookie);
    const dev = await TestClient.join(server, annCookie, { room: "dev-team" });
    const bob = await TestClient.join(server, await loginOk(server, "bob"), {
      room: "dev-team",
    });
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
      { name: "dev-team", users: 2 },
      { name: "lobby", users: 1 },
    ]);
    const page = await fetch(`${server.url}/chat/Not_A_Room`, {
      headers: { cookie: annCookie },
    });
    await page.body?.cancel();
    assert.equal(page.status, 404);
    const devPage = await fetch(`${server.url}/chat/dev-team`, {
      headers: { cookie: annCookie },
    });
    await devPage.body?.cancel();
    assert.equal(devPage.status, 200);
    await Promise.all([lobby.close(), dev.close(), bob.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("typing events reach the others in the room and are never stored", async () => {
  const server = await startServer();
  try {
    const a = await TestClient.join(server, await loginOk(server, "typist"));
    const b = await TestClient.join(server, await loginOk(server, "reader"));
    a.send({ type: "typing" });
    const t = await b.waitFor((e) => e.type === "typing");
    assert.equal(t.nickname, "typist");
    a.send({ type: "message", text: "done" });
    await b.waitForText("done");
    const c = await TestClient.join(server, await loginOk(server, "late"));
    assert.deepEqual(c.welcome.history.map((m: Event) => m.type), ["message"]);
    await Promise.all([a.close(), b.close(), c.close()]);
  } finally {
    await server.close();
  }
});
