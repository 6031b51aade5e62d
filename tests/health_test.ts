/**
 * Liveness and readiness: /healthz says the process answers, /readyz that
 * KV and the bus answer too, and names what does not.
 *
 * @module
 */
import assert from "node:assert/strict";
import { freePort, startServer } from "./helpers/harness.ts";
import { openFaultyKv } from "./helpers/kv_faults.ts";

async function readyz(
  server: { origin: string },
): Promise<{ status: number; text: string; cache: string | null }> {
  const res = await fetch(`${server.origin}/readyz`);
  return {
    status: res.status,
    text: await res.text(),
    cache: res.headers.get("cache-control"),
  };
}

/** Checks a 503 from /readyz that names `failing` as down and the rest as up. */
function assertNotReady(
  answer: { status: number; text: string },
  failing: ("kv" | "bus")[],
): void {
  assert.equal(answer.status, 503);
  const body = JSON.parse(answer.text);
  assert.equal(body.status, "not_ready");
  assert.deepEqual(body.failing, failing);
  assert.deepEqual(body.checks, {
    kv: failing.includes("kv") ? "down" : "up",
    bus: failing.includes("bus") ? "down" : "up",
  });
}

Deno.test("/readyz: 200 and every check up on a normal server", async () => {
  await using server = await startServer();
  const answer = await readyz(server);
  assert.equal(answer.status, 200);
  assert.equal(answer.cache, "no-store");
  const body = JSON.parse(answer.text);
  assert.equal(body.status, "ready");
  assert.deepEqual(body.checks, { kv: "up", bus: "up" });
  assert.equal(body.instance, server.chat.services.instanceId);
});

Deno.test("/readyz: 503 naming kv while KV reads fail, ready again once they work; /healthz stays 200", async () => {
  using faulty = await openFaultyKv();
  await using server = await startServer({}, { kv: faulty.kv });
  assert.equal((await readyz(server)).status, 200);

  faulty.failGets(() => true, "Database is locked");
  const down = await readyz(server);
  assertNotReady(down, ["kv"]);
  // The store's error stays out of the answer.
  assert.doesNotMatch(down.text, /locked/);
  const live = await fetch(`${server.origin}/healthz`);
  assert.equal(live.status, 200);
  await live.body?.cancel();

  faulty.heal();
  assert.equal((await readyz(server)).status, 200);
});

Deno.test("/readyz: 503 naming bus while Redis is down, without the Redis password", async () => {
  // Nothing listens on this port: the server starts with the bus down.
  const url = `redis://:hunter2-secret@127.0.0.1:${freePort()}`;
  await using server = await startServer({ REDIS_URL: url });
  const answer = await readyz(server);
  assertNotReady(answer, ["bus"]);
  assert.doesNotMatch(answer.text, /hunter2|redis:/);
});
