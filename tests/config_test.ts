import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../lib/app/config.ts";

Deno.test("loadConfig() applies the documented defaults", () => {
  const config = loadConfig({});
  assert.equal(config.server.port, 8000);
  assert.equal(config.server.hostname, "0.0.0.0");
  // No secret configured: the app makes one at start (see generateSecret).
  assert.deepEqual(config.session.secrets, []);
  assert.equal(config.server.instanceName, "chat");
  assert.deepEqual(config.session.allowedOrigins, []);
  assert.equal(config.nicknames.graceSeconds, 30);
  assert.equal(config.limits.maxFrameBytes, 16384);
  assert.equal(config.limits.maxMessageChars, 2000);
  assert.equal(config.limits.rateBurst, 10);
  assert.equal(config.limits.ratePerSecond, 1);
  assert.equal(config.limits.maxConnectionsPerIp, 20);
  assert.equal(config.limits.maxConnections, 10000);
  assert.equal(config.limits.slowClientBytes, 1048576);
  assert.equal(config.limits.idleTimeoutSeconds, 30);
  assert.equal(config.history.kvPath, "./data/chat.db");
  assert.equal(config.history.size, 200);
  assert.equal(config.history.ttlDays, 30);
  assert.equal(config.history.onJoin, 50);
  assert.equal(config.fanout.batchMs, 0);
  assert.equal(config.server.workers, 1);
  assert.equal(config.cluster.bus, "memory");
  assert.equal(config.cluster.presenceTtlSeconds, 15);
});

Deno.test("loadConfig() reads secrets for rotation and extra origins", () => {
  const a = "a".repeat(32);
  const b = "b".repeat(40);
  const config = loadConfig({
    COOKIE_SECRET: `${a}, ${b}`,
    ALLOWED_ORIGINS: "https://chat.example, http://localhost:3000/",
  });
  assert.deepEqual(config.session.secrets, [a, b]);
  assert.deepEqual(config.session.allowedOrigins, [
    "https://chat.example",
    "http://localhost:3000",
  ]);
});

Deno.test("loadConfig() reports every bad value with a clear message", () => {
  try {
    loadConfig({
      PORT: "eighty",
      COOKIE_SECRET: "short",
      NICK_GRACE_SECONDS: "-1",
      ALLOWED_ORIGINS: "not a url",
      WORKERS: "many",
      RATE_PER_SECOND: "fast",
    });
    assert.fail("expected a ConfigError");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems, [
      "Invalid COOKIE_SECRET secret #1: it has 5 characters, at least 32 are required",
      'Invalid WORKERS "many": expected "auto" or a whole number from 1 to 256',
      'Invalid PORT "eighty": expected a whole number',
      'Invalid ALLOWED_ORIGINS entry "not a url": expected an origin like https://chat.example.com',
      'Invalid NICK_GRACE_SECONDS "-1": must be between 0 and 86400',
      'Invalid RATE_PER_SECOND "fast": expected a number',
    ]);
  }
});

Deno.test("loadConfig() picks the bus from REDIS_URL, WORKERS and BUS", () => {
  assert.equal(loadConfig({ WORKERS: "2" }).cluster.bus, "broadcast");
  assert.equal(loadConfig({ WORKERS: "auto" }, { cores: 4 }).server.workers, 4);
  assert.equal(
    loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" }).cluster.bus,
    "redis",
  );
  assert.equal(loadConfig({ BUS: "kv" }).cluster.bus, "kv");
  assert.throws(() => loadConfig({ BUS: "redis" }), /REDIS_URL must be set/);
  assert.equal(loadConfig({ KV_PATH: ":memory:" }).history.kvPath, ":memory:");
  assert.equal(
    loadConfig({ DENO_DEPLOYMENT_ID: "x" }).history.kvPath,
    undefined,
  );
  assert.equal(loadConfig({ DENO_DEPLOYMENT_ID: "x" }).cluster.bus, "kv");
});
