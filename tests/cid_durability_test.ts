/**
 * A client message id (cid) is kept in KV beside its message, in the same
 * commit, so a retry of a message that was stored but never confirmed is
 * confirmed with the stored message, not posted again: after a SIGKILL
 * between commit and confirmation, on another instance, and after a
 * reconnect. One session's cids never hide another session's messages.
 */
import assert from "node:assert/strict";
import { KEYS } from "../lib/storage/keys.ts";
import {
  eventually,
  HIGH_RATE,
  loginOk,
  spawnServer,
  startPair,
  startServer,
  tempDir,
  TestClient,
  texts,
} from "./helpers/harness.ts";
import { RawSocket } from "./helpers/raw_ws.ts";

/** The texts a fresh joiner of `room` is shown as history. */
async function historyTexts(
  server: { origin: string },
  room: string,
): Promise<string[]> {
  await using witness = await TestClient.join(
    server,
    await loginOk(server, `w${crypto.randomUUID().slice(0, 8)}`),
    { room },
  );
  return texts(witness.welcome.history);
}

Deno.test("a message stored just before a SIGKILL, never confirmed, is confirmed once by the retry on the next process", async () => {
  await using dir = await tempDir("chat-cid-");
  const path = `${dir.path}/chat.db`;
  const env = { ...HIGH_RATE, KV_PATH: path };
  const frame = { type: "message", text: "only once", cid: "c-crash-1" };
  let cookie: string;
  {
    await using first = await spawnServer(env);
    cookie = await loginOk(first, "alice");
    // A socket that never reads: whatever the server answers, the client
    // has not seen it when the process dies, as with a lost confirmation.
    using raw = await RawSocket.open(first, { cookie, path: "/ws/dev" });
    await raw.send(frame);
    // A second reader of the KV file sees the commit; the kill follows it.
    using reader = await Deno.openKv(path);
    await eventually(async () =>
      (await reader.get(KEYS.message("dev", 1))).value !== null
    );
    const status = await first.stop("SIGKILL");
    assert.equal(status.signal, "SIGKILL");
    assert.equal(raw.frames.length, 0, "the client read nothing");
  }
  await using second = await spawnServer(env);
  await using alice = await TestClient.join(second, cookie, {
    room: "dev",
    since: 0,
  });
  assert.deepEqual(texts(alice.welcome.history), ["only once"]);
  alice.send(frame);
  const confirmed = await alice.waitFor((e) =>
    e.type === "message" && e.cid === frame.cid
  );
  assert.equal(confirmed.id, 1);
  assert.equal(confirmed.text, "only once");
  // The room goes on from there: the next message is 2, and "only once" was
  // never posted a second time.
  alice.send({ type: "message", text: "next", cid: "c-crash-2" });
  assert.equal((await alice.waitForText("next")).id, 2);
  assert.deepEqual(await historyTexts(second, "dev"), ["only once", "next"]);
});

Deno.test("a cid retry on another instance is confirmed with the stored message, not posted again", async () => {
  await using pair = await startPair(HIGH_RATE);
  const cookie = await loginOk(pair.a, "alice");
  const frame = { type: "message", text: "sent on a", cid: "c-pair-1" };
  const onA = await pair.a.joinWith(cookie, { room: "dev" });
  onA.send(frame);
  const stored = await onA.waitForText("sent on a");
  await onA.close();
  const watcher = await pair.b.join("watcher", { room: "dev" });
  const onB = await pair.b.joinWith(cookie, { room: "dev", since: stored.id });
  onB.send(frame);
  const again = await onB.waitFor((e) =>
    e.type === "message" && e.cid === frame.cid
  );
  assert.deepEqual(
    { id: again.id, text: again.text, ts: again.ts },
    { id: stored.id, text: stored.text, ts: stored.ts },
  );
  // Nobody else hears of the retry: the next message follows on directly.
  onB.send({ type: "message", text: "after", cid: "c-pair-2" });
  await watcher.waitForText("after");
  assert.deepEqual(texts(watcher.ofType("message")), ["after"]);
  assert.equal((await onB.waitForText("after")).id, stored.id + 1);
  assert.deepEqual(await historyTexts(pair.b, "dev"), ["sent on a", "after"]);
});

Deno.test("without a crash, a cid retry after a reconnect is confirmed, not posted again", async () => {
  await using server = await startServer(HIGH_RATE);
  const cookie = await loginOk(server, "alice");
  const frame = { type: "message", text: "hello", cid: "c-again" };
  const first = await server.joinWith(cookie, { room: "dev" });
  first.send(frame);
  const stored = await first.waitForText("hello");
  await first.close();
  const second = await server.joinWith(cookie, {
    room: "dev",
    since: stored.id,
    epoch: first.welcome.epoch || undefined,
  });
  second.send(frame);
  const again = await second.waitFor((e) =>
    e.type === "message" && e.cid === frame.cid
  );
  assert.equal(again.id, stored.id);
  assert.deepEqual(await historyTexts(server, "dev"), ["hello"]);
});

Deno.test("one session's cid never hides another session's message, nor another room's", async () => {
  // Abuse case: a cid is the client's to choose, so one user could try to
  // claim the cids another's page will use; they are kept per session.
  await using pair = await startPair(HIGH_RATE);
  const alice = await pair.a.join("alice", { room: "dev" });
  alice.send({ type: "message", text: "alice's", cid: "shared" });
  await alice.waitForText("alice's");
  // On the other instance, whose memory knows nothing of alice's cid.
  const mallory = await pair.b.join("mallory", { room: "dev" });
  mallory.send({ type: "message", text: "mallory's", cid: "shared" });
  assert.equal((await mallory.waitForText("mallory's")).id, 2);
  const elsewhere = await pair.b.joinWith(alice.cookie, { room: "ops" });
  elsewhere.send({ type: "message", text: "alice in ops", cid: "shared" });
  assert.equal((await elsewhere.waitForText("alice in ops")).id, 1);
  assert.deepEqual(await historyTexts(pair.a, "dev"), ["alice's", "mallory's"]);
});

Deno.test("a message's cid is stored in KV beside it, with the id it was stored under", async () => {
  using kv = await Deno.openKv(":memory:");
  await using server = await startServer(HIGH_RATE, { kv });
  const alice = await server.join("alice", { room: "dev" });
  alice.send({ type: "message", text: "kept", cid: "c-ttl" });
  const stored = await alice.waitForText("kept");
  const keys = [];
  for await (const entry of kv.list<number>({ prefix: ["cid", "dev"] })) {
    keys.push(entry);
  }
  assert.equal(keys.length, 1);
  assert.equal(keys[0].key.at(-1), "c-ttl");
  assert.equal(keys[0].value, stored.id);
});
