import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../lib/app/config.ts";

Deno.test("loadConfig() applies the documented defaults", () => {
  const config = loadConfig({});
  assert.equal(config.port, 8000);
  assert.equal(config.hostname, "0.0.0.0");
  assert.equal(config.cookieSecretGenerated, true);
  assert.equal(config.cookieSecrets.length, 1);
  assert.ok(config.cookieSecrets[0].length >= 32);
  assert.deepEqual(config.allowedOrigins, []);
  assert.equal(config.nickGraceSeconds, 30);
  assert.equal(config.maxFrameBytes, 16384);
  assert.equal(config.maxMessageChars, 2000);
  assert.equal(config.rateBurst, 10);
  assert.equal(config.ratePerSecond, 1);
  assert.equal(config.maxConnectionsPerIp, 20);
  assert.equal(config.maxConnections, 10000);
  assert.equal(config.slowClientBytes, 1048576);
  assert.equal(config.idleTimeoutSeconds, 30);
  assert.equal(config.kvPath, "./data/chat.db");
  assert.equal(config.historySize, 200);
  assert.equal(config.historyTtlDays, 30);
  assert.equal(config.historyOnJoin, 50);
  assert.equal(config.batchMs, 0);
  assert.equal(config.workers, 1);
  assert.equal(config.bus, "memory");
  assert.equal(config.presenceTtlSeconds, 15);
});

Deno.test("loadConfig() reads secrets for rotation and extra origins", () => {
  const a = "a".repeat(32);
  const b = "b".repeat(40);
  const config = loadConfig({
    COOKIE_SECRET: `${a}, ${b}`,
    ALLOWED_ORIGINS: "https://chat.example, http://localhost:3000/",
  });
  assert.deepEqual(config.cookieSecrets, [a, b]);
  assert.equal(config.cookieSecretGenerated, false);
  assert.deepEqual(config.allowedOrigins, [
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
  assert.equal(loadConfig({ WORKERS: "2" }).bus, "broadcast");
  assert.equal(loadConfig({ WORKERS: "auto" }, { cores: 4 }).workers, 4);
  assert.equal(
    loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" }).bus,
    "redis",
  );
  assert.equal(loadConfig({ BUS: "kv" }).bus, "kv");
  assert.throws(() => loadConfig({ BUS: "redis" }), /REDIS_URL must be set/);
  assert.equal(loadConfig({ KV_PATH: ":memory:" }).kvPath, ":memory:");
  assert.equal(loadConfig({ DENO_DEPLOYMENT_ID: "x" }).kvPath, undefined);
  assert.equal(loadConfig({ DENO_DEPLOYMENT_ID: "x" }).bus, "kv");
});
