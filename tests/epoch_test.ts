import assert from "node:assert/strict";
import { createKvStore, EPOCH_PATTERN } from "../lib/storage/history.ts";
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

Deno.test("createKvStore() makes an epoch with a room's head and keeps it", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = createKvStore(kv, { historySize: 5, ttlMs: 60_000 });
  assert.equal((await store.recent("a", 5)).epoch, "");
  const ts = Date.now();
  await store.append("a", [{ nickname: "n", text: "1", ts }]);
  const { epoch } = await store.recent("a", 5);
  assert.match(epoch, EPOCH_PATTERN);
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
