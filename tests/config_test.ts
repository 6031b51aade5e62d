import assert from "node:assert/strict";
import {
  ConfigError,
  loadConfig,
  MIN_SECRET_LENGTH,
} from "../lib/app/config.ts";
import { generateSecret } from "../lib/app/services.ts";

Deno.test("loadConfig() applies the documented defaults", () => {
  // No secret configured: the app makes one at start (see generateSecret).
  assert.deepEqual(loadConfig({}, { cores: 2 }), {
    server: {
      port: 8000,
      hostname: "0.0.0.0",
      workers: 1,
      instanceName: "chat",
      routedByHost: false,
      trustedProxies: [],
    },
    session: {
      secrets: [],
      maxAgeSeconds: 604800,
      allowedOrigins: [],
      publicOrigin: undefined,
    },
    nicknames: { graceSeconds: 30 },
    limits: {
      maxFrameBytes: 16384,
      maxMessageChars: 2000,
      rateBurst: 10,
      ratePerSecond: 1,
      maxConnectionsPerIp: 20,
      maxConnections: 10000,
      loginBurst: 10,
      loginPerMinute: 20,
      addressRateBurst: 30,
      addressRatePerSecond: 5,
      roomCreateBurst: 5,
      roomCreatePerHour: 20,
      maxRooms: 1000,
      scrollbackBurst: 30,
      scrollbackPerSecond: 2,
      slowClientBytes: 1048576,
      idleTimeoutSeconds: 30,
      editWindowMinutes: 15,
    },
    history: {
      kvPath: "./data/chat.db",
      requireHosted: false,
      size: 200,
      ttlDays: 30,
      onJoin: 50,
    },
    fanout: { batchMs: 0 },
    cluster: { bus: "memory", redisUrl: undefined, presenceTtlSeconds: 15 },
    log: { level: "info" },
    moderation: { moderators: [] },
  });
});

Deno.test("loadConfig() is pure: one environment gives one config", () => {
  const env = { COOKIE_SECRET: "s".repeat(32), WORKERS: "auto" };
  assert.deepEqual(
    loadConfig(env, { cores: 3 }),
    loadConfig(env, { cores: 3 }),
  );
});

Deno.test("generateSecret() makes a fresh secret long enough for config", () => {
  const a = generateSecret();
  assert.ok(a.length >= MIN_SECRET_LENGTH);
  assert.notEqual(a, generateSecret());
  assert.deepEqual(loadConfig({ COOKIE_SECRET: a }).session.secrets, [a]);
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
    loadConfig({ DENO_DEPLOYMENT_ID: "x", COOKIE_SECRET: "s".repeat(32) })
      .history.kvPath,
    undefined,
  );
  assert.equal(
    loadConfig({ DENO_DEPLOYMENT_ID: "x", COOKIE_SECRET: "s".repeat(32) })
      .cluster.bus,
    "kv",
  );
});

Deno.test("loadConfig() listens on HOST and ignores HOSTNAME (a container's name)", () => {
  assert.deepEqual(
    loadConfig({ HOSTNAME: "some-name" }),
    loadConfig({}),
  );
  assert.equal(loadConfig({ HOST: "127.0.0.1" }).server.hostname, "127.0.0.1");
});

Deno.test("loadConfig() reads LOG_LEVEL and reports a bad one with the others", () => {
  assert.equal(loadConfig({ LOG_LEVEL: "debug" }).log.level, "debug");
  assert.equal(loadConfig({ LOG_LEVEL: " Warning " }).log.level, "warning");
  assert.throws(
    () => loadConfig({ LOG_LEVEL: "loud", PORT: "x" }),
    (err) =>
      err instanceof ConfigError && err.problems.includes(
        'Invalid LOG_LEVEL "loud": expected debug, info, warning, error',
      ) && err.problems.length === 2,
  );
});

Deno.test("loadConfig() on Deno Deploy requires COOKIE_SECRET and the hosted KV", () => {
  const deploy = { DENO_DEPLOYMENT_ID: "x" };
  assert.throws(
    () => loadConfig(deploy),
    (err) =>
      err instanceof ConfigError && err.problems.length === 1 &&
      err.problems[0].startsWith("Missing COOKIE_SECRET on Deno Deploy: "),
  );
  const config = loadConfig({ ...deploy, COOKIE_SECRET: "s".repeat(32) });
  assert.equal(config.history.requireHosted, true);
  assert.equal(
    loadConfig({
      ...deploy,
      COOKIE_SECRET: "s".repeat(32),
      KV_PATH: "https://api.deno.com/databases/x/connect",
    }).history.requireHosted,
    false,
  );
});

Deno.test("loadConfig() never repeats a password from a bad REDIS_URL", () => {
  assert.throws(
    () => loadConfig({ REDIS_URL: "http://:s3cretpass@redis:6379" }),
    (err) =>
      err instanceof ConfigError && !err.message.includes("s3cretpass") &&
      err.message.includes("Invalid REDIS_URL"),
  );
});

Deno.test("loadConfig() reads TRUSTED_PROXIES as a list and names a bad entry", () => {
  const env = { COOKIE_SECRET: "s".repeat(32) };
  assert.deepEqual(
    loadConfig({ ...env, TRUSTED_PROXIES: " loopback, 10.0.0.0/8 ,::1" })
      .server.trustedProxies,
    ["loopback", "10.0.0.0/8", "::1"],
  );
  assert.throws(
    () => loadConfig({ ...env, TRUSTED_PROXIES: "10.0.0.0/99" }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.problems[0].startsWith('Invalid TRUSTED_PROXIES "10.0.0.0/99": '),
  );
});
