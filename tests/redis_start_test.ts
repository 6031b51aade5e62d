/**
 * Redis down when the servers start: they serve at once, say so in one
 * line without the password, and deliver across once Redis comes up.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  eventually,
  freePort,
  joinAs,
  spawnServer,
} from "./helpers/harness.ts";
import { hasRedis, startRedis } from "./helpers/redis.ts";

const PASSWORD = "s3cretpass";

Deno.test({
  name:
    "Redis down at start: both servers serve, log it without the password, and deliver across once it is up",
  ignore: !hasRedis,
  async fn() {
    await using stack = new AsyncDisposableStack();
    const dir = await Deno.makeTempDir({ prefix: "chat-redis-start-" });
    stack.defer(() => Deno.remove(dir, { recursive: true }));
    const redisPort = freePort();
    const env = {
      REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redisPort}`,
      KV_PATH: `${dir}/chat.db`,
      // Long enough that KV catch-up cannot pass for the bus.
      PRESENCE_TTL_SECONDS: "3600",
    };
    const a = stack.use(
      await spawnServer({ ...env, INSTANCE_ID: "a" }, { captureStderr: true }),
    );
    const b = stack.use(
      await spawnServer({ ...env, INSTANCE_ID: "b" }, { captureStderr: true }),
    );
    // spawnServer returned, so /healthz answered with Redis down.
    for (const server of [a, b]) {
      await eventually(() =>
        /Redis is not reachable at start/.test(server.stderr())
      );
    }

    const redis = await startRedis(redisPort, { password: PASSWORD });
    stack.defer(() => redis.kill());
    for (const server of [a, b]) {
      await eventually(() => /Redis bus is up/.test(server.stderr()), {
        timeoutMs: 10_000,
      });
    }
    const alice = stack.use(await joinAs({ origin: a.origin }, "alice"));
    const bob = stack.use(await joinAs({ origin: b.origin }, "bob"));
    alice.send({ type: "message", text: "across the bus" });
    await bob.waitForText("across the bus");

    for (const server of [a, b]) {
      const lines = server.stderr().split("\n").filter((line) =>
        /Redis/.test(line)
      );
      assert.equal(
        lines.filter((line) => /not reachable/.test(line)).length,
        1,
        "one line for the outage at start",
      );
      assert.ok(!server.stderr().includes(PASSWORD), server.stderr());
    }
  },
});
