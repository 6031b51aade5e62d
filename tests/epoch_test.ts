import assert from "node:assert/strict";
import { createKvStore, EPOCH_PATTERN } from "../lib/storage/history.ts";
import { KEYS } from "../lib/storage/keys.ts";
import { startsOver } from "../static/chat/frames.js";
import {
  HIGH_RATE,
  loginOk,
  range,
  startServer,
  type TestClient,
} from "./helpers/harness.ts";

async function post(client: TestClient, texts: string[]): Promise<void> {
  for (const text of texts) {
    client.send({ type: "message", text });
    await client.waitForText(text);
  }
}

Deno.test("createKvStore() gives a room an epoch before its first message and keeps it", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = createKvStore(kv, { historySize: 5, ttlMs: 60_000 });
  const { epoch } = await store.recent("a", 5);
  assert.match(epoch, EPOCH_PATTERN);
  const ts = Date.now();
  await store.append("a", [{ nickname: "n", text: "1", ts }]);
  assert.equal((await store.recent("a", 5)).epoch, epoch);
  await store.append("a", [{ nickname: "n", text: "2", ts }]);
  assert.equal((await store.since("a", 1, epoch)).epoch, epoch);
  assert.deepEqual((await store.since("a", 1, epoch)).recovered, true);
  const other = await store.since("a", 1, "another");
  assert.equal(other.recovered, false);
  assert.deepEqual(other.messages.map((m) => m.id), [1, 2]);
  // A second room gets its own epoch.
  await store.append("b", [{ nickname: "n", text: "1", ts }]);
  assert.notEqual((await store.recent("b", 5)).epoch, epoch);
});

Deno.test("a page that saw store A resumes on a fresh store B: recovered false, B's ids 1..3 delivered", async () => {
  using kvA = await Deno.openKv(":memory:");
  using kvB = await Deno.openKv(":memory:");
  let epochA: string;
  {
    await using a = await startServer(HIGH_RATE, { kv: kvA });
    const alice = await a.join("alice", { room: "dev" });
    await post(alice, ["a1", "a2", "a3"]);
    const again = await a.join("again", { room: "dev" });
    epochA = again.welcome.epoch;
    assert.match(epochA, EPOCH_PATTERN);
    assert.equal(again.welcome.seq, 3);
  }
  await using b = await startServer(HIGH_RATE, { kv: kvB });
  const bob = await b.join("bob", { room: "dev" });
  await post(bob, ["b1"]);
  const cookie = await loginOk(b, "alice");
  const resumed = await b.joinWith(cookie, {
    room: "dev",
    since: 3,
    epoch: epochA,
  });
  const welcome = resumed.welcome;
  assert.equal(welcome.recovered, false);
  assert.notEqual(welcome.epoch, epochA);
  assert.deepEqual(welcome.history.map((m: { text: string }) => m.text), [
    "b1",
  ]);
  assert.equal(startsOver(epochA, welcome), true);
  await post(bob, ["b2", "b3"]);
  await resumed.waitForText("b3");
  assert.deepEqual(resumed.ofType("message").map((m) => m.id), [2, 3]);

  // With B's epoch the resume is exact again.
  const exact = await b.joinWith(cookie, {
    room: "dev",
    since: 1,
    epoch: welcome.epoch,
  });
  assert.equal(exact.welcome.recovered, true);
  assert.equal(exact.welcome.epoch, welcome.epoch);
  assert.deepEqual(
    exact.welcome.history.map((m: { id: number }) => m.id),
    range(2, 3),
  );
  assert.equal(startsOver(welcome.epoch, exact.welcome), false);
});

Deno.test("a malformed epoch is refused with 400 and says why", async () => {
  await using server = await startServer();
  const cookie = await loginOk(server, "eve");
  // fetch cannot upgrade, so the refusal is checked through the app itself.
  const headers = { upgrade: "websocket", connection: "Upgrade", cookie };
  for (const bad of ["a".repeat(33), "a b", "é", "a.b"]) {
    const res = await server.chat.app.fetch(
      new Request(
        `${server.url}/ws/dev?since=1&epoch=${encodeURIComponent(bad)}`,
        { headers },
      ),
    );
    assert.equal(res.status, 400);
    assert.match(await res.text(), /^Invalid epoch ".*": expected 1 to 32/);
  }
  assert.equal(server.chat.hub.stats().connections, 0);
});

/** How `client`'s socket closed, or a failure after `ms`. */
async function closedWithin(
  client: TestClient,
  ms: number,
): Promise<{ code: number; reason: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${client.nickname} still open after ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([client.closed, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `op`, recording the expireIn of each set by the key's first part. */
function recordingAtomic(
  op: Deno.AtomicOperation,
  expiries: [string, number | undefined][],
): Deno.AtomicOperation {
  const proxy: Deno.AtomicOperation = new Proxy(op, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "set") {
          const [key, , options] = args as [
            Deno.KvKey,
            unknown,
            { expireIn?: number } | undefined,
          ];
          expiries.push([String(key[0]), options?.expireIn]);
        }
        const result = value.apply(target, args);
        return result === target ? proxy : result;
      };
    },
  });
  return proxy;
}

Deno.test("a room's head and epoch expire with its newest message: each commit sets their TTL again", async () => {
  using real = await Deno.openKv(":memory:");
  const expiries: [string, number | undefined][] = [];
  const kv = new Proxy(real, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => recordingAtomic(target.atomic(), expiries);
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const store = createKvStore(kv, {
    historySize: 5,
    ttlMs: 60_000,
    cidTtlMs: 7_000,
  });
  const ts = Date.now();
  await store.append("a", [{ nickname: "n", text: "1", ts }]);
  await store.append("a", [
    { nickname: "n", text: "2", ts, cid: "c2", owner: "sid-n" },
  ]);
  assert.deepEqual(expiries, [
    ["seq", 60_000],
    ["epoch", 60_000],
    ["msg", 60_000],
    ["seq", 60_000],
    ["epoch", 60_000],
    ["msg", 60_000],
    ["cid", 7_000],
  ]);
});

Deno.test("a room whose head expired with its last message starts a new stream: its members resume and see the new ids", async () => {
  using kv = await Deno.openKv(":memory:");
  await using server = await startServer(HIGH_RATE, { kv });
  const alice = await server.join("alice", { room: "dev" });
  const bob = await server.join("bob", { room: "dev" });
  await post(alice, ["a1", "a2", "a3"]);
  await bob.waitForText("a3");
  const old = alice.welcome.epoch;
  // What expiry does once the room has been silent for HISTORY_TTL_DAYS:
  // its messages, head and epoch go (the same TTL, set by the last commit).
  await kv.atomic().delete(KEYS.head("dev")).delete(KEYS.epoch("dev"))
    .delete(KEYS.message("dev", 1)).delete(KEYS.message("dev", 2))
    .delete(KEYS.message("dev", 3)).commit();
  alice.send({ type: "message", text: "fresh", cid: "f1" });
  // Both pages hold ids 1..3 of the old stream: they are sent to resume.
  assert.equal((await closedWithin(alice, 5000)).code, 1012);
  assert.equal((await closedWithin(bob, 5000)).code, 1012);
  const resumed = await server.joinWith(bob.cookie, {
    room: "dev",
    since: 3,
    epoch: old,
  });
  const welcome = resumed.welcome;
  assert.equal(welcome.recovered, false);
  assert.notEqual(welcome.epoch, old);
  assert.equal(startsOver(old, welcome), true);
  assert.deepEqual(
    welcome.history.map((m: { id: number; text: string }) => [m.id, m.text]),
    [[1, "fresh"]],
  );
  // The new stream goes on live, from id 2, to everyone.
  const carol = await server.join("carol", { room: "dev" });
  carol.send({ type: "message", text: "fresh2" });
  assert.equal((await resumed.waitForText("fresh2")).id, 2);
});

Deno.test("a page that joined before a room's first message resumes exactly; ids without an epoch start over", async () => {
  await using server = await startServer(HIGH_RATE);
  const early = await server.join("early", { room: "new-room" });
  const { epoch } = early.welcome;
  assert.match(epoch, EPOCH_PATTERN);
  assert.equal(early.welcome.seq, 0);
  const bob = await server.join("bob", { room: "new-room" });
  await post(bob, ["m1", "m2"]);
  await early.waitForText("m2");
  // The first message kept the epoch the early page was given.
  const later = await server.join("later", { room: "new-room" });
  assert.equal(later.welcome.epoch, epoch);
  const exact = await server.joinWith(early.cookie, {
    room: "new-room",
    since: 2,
    epoch,
  });
  assert.equal(exact.welcome.recovered, true);
  assert.deepEqual(exact.welcome.history, []);
  // A page that knows ids but no epoch cannot tell this stream from another.
  const unsure = await server.joinWith(early.cookie, {
    room: "new-room",
    since: 2,
  });
  assert.equal(unsure.welcome.recovered, false);
  assert.equal(startsOver("", unsure.welcome), true);
  assert.deepEqual(
    unsure.welcome.history.map((m: { text: string }) => m.text),
    ["m1", "m2"],
  );
});
