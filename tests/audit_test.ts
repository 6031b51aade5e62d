/**
 * `GET /api/audit`: moderators only, newest first, paged with `before`.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  getPage,
  login as loginAgain,
  loginOk,
  startServer,
} from "./helpers/harness.ts";
import {
  joinAsModerator,
  MOD_ENV,
  MOD_NAME,
  MOD_PASSWORD,
  moderate,
  upgradeStatus,
} from "./helpers/moderation.ts";
import { openFaultyKv } from "./helpers/kv_faults.ts";

Deno.test("GET /api/audit answers 401 without a session and 403 to a non-moderator", async () => {
  await using server = await startServer(MOD_ENV);
  const mod = await joinAsModerator(server);
  await moderate(mod, { action: "topic", text: "secret plans" });
  const anon = await getPage(server, "/api/audit");
  assert.equal(anon.status, 401);
  const eve = await loginOk(server, "eve");
  const refused = await getPage(server, "/api/audit", eve);
  assert.equal(refused.status, 403);
  assert.ok(!refused.body.includes("secret plans"));
  const forged = await getPage(server, "/api/audit", mod.cookie + "x");
  assert.equal(forged.status, 401);
});

Deno.test("GET /api/audit pages the log newest first and refuses bad cursors", async () => {
  await using server = await startServer(MOD_ENV);
  const mod = await joinAsModerator(server);
  for (let i = 1; i <= 5; i++) {
    await moderate(mod, { action: "topic", text: `topic ${i}` });
  }
  await moderate(mod, {
    action: "mute",
    nickname: "bob",
    duration: "1h",
    reason: "spam",
  });
  const read = async (query: string) => {
    const page = await getPage(server, `/api/audit${query}`, mod.cookie);
    assert.equal(page.status, 200, page.body);
    assert.equal(page.headers.get("cache-control"), "no-store");
    return JSON.parse(page.body);
  };
  const first = await read("?limit=2");
  assert.deepEqual(first.entries.map((e: { action: string }) => e.action), [
    "mute",
    "topic",
  ]);
  assert.equal(first.entries[0].target, "bob");
  assert.equal(first.entries[0].reason, "spam");
  assert.equal(first.entries[0].by, "Alice");
  assert.equal(first.entries[0].duration, "1h");
  assert.ok(first.entries[0].until > first.entries[0].at);
  assert.equal(first.entries[1].text, "topic 5");
  const second = await read(`?limit=2&before=${first.next}`);
  assert.deepEqual(second.entries.map((e: { text: string }) => e.text), [
    "topic 4",
    "topic 3",
  ]);
  const third = await read(`?limit=2&before=${second.next}`);
  assert.deepEqual(third.entries.map((e: { text: string }) => e.text), [
    "topic 2",
    "topic 1",
  ]);
  assert.equal(third.next, undefined, "no older page");
  assert.equal((await read("")).entries.length, 6);
  for (const bad of ["?limit=0", "?limit=201", "?limit=x", "?before=nope"]) {
    const page = await getPage(server, `/api/audit${bad}`, mod.cookie);
    assert.equal(page.status, 400, bad);
    assert.match(JSON.parse(page.body).error, /^Invalid (limit|before) "/);
  }
});

Deno.test("when KV fails, the audit route, upgrades and a moderator's login answer 503, never 500", async () => {
  using faulty = await openFaultyKv();
  await using server = await startServer(MOD_ENV, { kv: faulty.kv });
  const mod = await joinAsModerator(server);
  faulty.failGets((key) => key[0] === "mod_session", "Database is locked");
  const audit = await getPage(server, "/api/audit", mod.cookie);
  assert.equal(audit.status, 503);
  assert.ok(!audit.body.includes("Database is locked"));
  const upgrade = await upgradeStatus(server, mod.cookie);
  assert.equal(upgrade.status, 503);
  assert.equal(upgrade.retryAfter, "5");
  faulty.heal();
  faulty.failWrites("No space left on device");
  // Again from the moderator's own browser, so the name is not taken.
  const login = await loginAgain(server, MOD_NAME, {
    cookie: mod.cookie,
    password: MOD_PASSWORD,
  });
  assert.equal(login.status, 503);
  assert.ok(!login.body.includes(MOD_PASSWORD));
  faulty.heal();
  assert.equal((await getPage(server, "/api/audit", mod.cookie)).status, 200);
});
