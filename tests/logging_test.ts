/**
 * What the log says and never says: logins and logouts with the nickname,
 * closes for abuse with their reason, and no password from a URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { configSummary, redactUrl } from "../lib/app/redact.ts";
import {
  loginOk,
  logout,
  SECRET,
  startServer,
  testConfig,
} from "./helpers/harness.ts";

Deno.test("redactUrl() hides passwords in userinfo and query, keeps the rest", () => {
  assert.equal(
    redactUrl("redis://:s3cretpass@10.0.0.5:6379/0"),
    "redis://:***@10.0.0.5:6379/0",
  );
  assert.equal(
    redactUrl("rediss://app:s3cretpass@redis.example:6380"),
    "rediss://app:***@redis.example:6380",
  );
  assert.equal(redactUrl("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
  assert.ok(
    !redactUrl("https://x.example/?token=s3cretpass").includes("s3cret"),
  );
  // Not parseable as a URL: the userinfo is still hidden.
  assert.ok(!redactUrl("redis://:s3cretpass@[bad").includes("s3cretpass"));
});

Deno.test("The start summary has no cookie secret and no Redis password", () => {
  const summary = JSON.stringify(configSummary(testConfig({
    REDIS_URL: "redis://:s3cretpass@127.0.0.1:6379",
  })));
  assert.ok(!summary.includes("s3cretpass"), summary);
  assert.ok(!summary.includes(SECRET), summary);
  assert.match(summary, /"redis":"redis:\/\/:\*\*\*@127\.0\.0\.1:6379"/);
});

Deno.test("Login and logout are logged with the nickname and no secret", async () => {
  await using server = await startServer();
  const cookie = await loginOk(server, "alice");
  const res = await logout(server, cookie);
  assert.equal(res.status, 303);
  assert.ok(server.logs.some((l) => /^Logged in .*"nickname":"alice"/.test(l)));
  assert.ok(
    server.logs.some((l) => /^Logged out .*"nickname":"alice"/.test(l)),
  );
  for (const line of server.logs) {
    assert.ok(!line.includes(SECRET), line);
    assert.ok(!line.includes(cookie.split("=")[1]), line);
  }
});

Deno.test("A rate-limit close is logged with its code, reason and nickname", async () => {
  await using server = await startServer({
    RATE_BURST: "1",
    RATE_PER_SECOND: "0.001",
  });
  const alice = await server.join("alice");
  for (let i = 0; i < 10; i++) alice.send({ type: "message", text: `m${i}` });
  await alice.closed;
  assert.ok(
    server.logs.some((l) =>
      /^Closed a socket .*"code":1008.*"reason":"Rate limit exceeded".*"nickname":"alice"/
        .test(l)
    ),
    server.logs.join("\n"),
  );
});
