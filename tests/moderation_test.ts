/**
 * Moderation through the real path: reserved nicknames and their password,
 * the password limiter, every action over real sockets, a non-moderator's
 * attempt refused with nothing changed, bans over a restart and across two
 * instances.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  eventually,
  login,
  spawnServer,
  startPair,
  startServer,
  tempDir,
  TestClient,
} from "./helpers/harness.ts";
import {
  joinAsModerator,
  loginWithPassword,
  MOD_ENV,
  MOD_NAME,
  MOD_PASSWORD,
  moderate,
  upgradeStatus,
} from "./helpers/moderation.ts";
import { CLOSE } from "../lib/chat/protocol.ts";
import { DEFAULT_ITERATIONS, hashPassword } from "../lib/auth/passwords.ts";
import { PASSWORD_BURST } from "../lib/moderation/login_gate.ts";

Deno.test("a moderator's nickname and its look-alikes need the password; the form asks for it", async () => {
  await using server = await startServer(MOD_ENV);
  for (const name of [MOD_NAME, "ALICE", "\u0410lice", "A1ice"]) {
    const bare = await login(server, name);
    assert.equal(bare.status, 401, name);
    assert.equal(
      bare.cookie,
      "",
      `no session for ${name} without the password`,
    );
    assert.match(bare.body, /type="password"/);
    assert.match(bare.body, /belongs to a moderator/);
  }
  const plain = await login(server, "bob");
  assert.equal(plain.status, 303, "other names need no password");
  const form = await (await fetch(`${server.url}/login`)).text();
  assert.ok(!form.includes('type="password"'), "no password field by default");
  const wrong = await loginWithPassword(server, "alice", "nope");
  assert.equal(wrong.status, 401);
  assert.match(wrong.body, /not right/);
  assert.ok(!wrong.body.includes("nope"), "the typed password is not echoed");
  // The right password under a confusable spelling logs in as the moderator.
  const right = await loginWithPassword(server, "\u0410lice", MOD_PASSWORD);
  assert.equal(right.status, 303);
  await using client = await TestClient.join(server, right.cookie);
  assert.equal(client.nickname, MOD_NAME);
  const state = await client.waitFor((e) => e.type === "room");
  assert.equal(state.moderator, true);
  assert.deepEqual(state.moderators, [MOD_NAME]);
});

Deno.test("wrong passwords are limited per address, and then even the right one waits", async () => {
  await using server = await startServer(MOD_ENV);
  for (let i = 0; i < PASSWORD_BURST; i++) {
    assert.equal(
      (await loginWithPassword(server, MOD_NAME, `guess${i}`)).status,
      401,
    );
  }
  const limited = await loginWithPassword(server, MOD_NAME, MOD_PASSWORD);
  assert.equal(limited.status, 429);
  assert.match(limited.body, /Too many wrong passwords/);
  assert.equal(limited.cookie, "");
  // Names without a password are not held up.
  assert.equal((await login(server, "bob")).status, 303);
});

Deno.test("at most two password checks run at once, so guesses from many addresses cannot take every core", async () => {
  const slow = await hashPassword("x", { iterations: DEFAULT_ITERATIONS });
  await using server = await startServer({ MODERATORS: `${MOD_NAME}:${slow}` });
  const answers = await Promise.all(
    [1, 2, 3, 4].map((i) => loginWithPassword(server, MOD_NAME, `guess${i}`)),
  );
  const statuses = answers.map((a) => a.status).sort();
  assert.deepEqual(statuses, [401, 401, 429, 429]);
});

Deno.test("a non-moderator who keeps sending mod frames is closed for abuse", async () => {
  // The default rate: strikes past 5x a burst of 10 close the socket.
  await using server = await startServer({ MODERATORS: MOD_ENV.MODERATORS });
  const eve = await server.join("eve");
  for (let i = 0; i < 200; i++) eve.send({ type: "mod", action: "lock" });
  assert.equal((await eve.closed).code, CLOSE.POLICY);
});

Deno.test("the moderator's password reaches no log, even at debug level", async () => {
  await using child = await spawnServer({
    ...MOD_ENV,
    KV_PATH: ":memory:",
    LOG_LEVEL: "debug",
  }, { captureStderr: true });
  await loginWithPassword(child, MOD_NAME, "wrong-" + MOD_PASSWORD);
  const ok = await loginWithPassword(child, MOD_NAME, MOD_PASSWORD);
  assert.equal(ok.status, 303);
  const hash = MOD_ENV.MODERATORS.split("$").at(-1)!;
  await child.stop();
  const logs = child.stderr();
  assert.match(logs, /Logged in/, "the login itself is logged");
  assert.ok(!logs.includes(MOD_PASSWORD), "no password in the logs");
  assert.ok(!logs.includes(hash), "no hash in the logs");
});

Deno.test("a non-moderator's moderation frames are refused and change nothing", async () => {
  await using server = await startServer(MOD_ENV);
  const eve = await server.join("eve");
  const bob = await server.join("bob");
  const frames = [
    { action: "kick", nickname: "bob" },
    { action: "ban", nickname: "bob", duration: "1d", address: true },
    { action: "mute", nickname: "bob" },
    { action: "slow", seconds: 60 },
    { action: "lock" },
    { action: "topic", text: "owned" },
    { action: "unban", nickname: "bob" },
    { action: "unmute", nickname: "bob" },
    { action: "unlock" },
    { action: "slow", seconds: 0 },
  ];
  for (const frame of frames) {
    const answer = await moderate(eve, frame);
    assert.equal(answer.type, "error");
    assert.equal(answer.code, "forbidden");
    // The refusal names what it refuses, so a page knows which request failed
    assert.equal(answer.action, frame.action);
  }
  // Bob is still here, may post, and the room has no rules.
  bob.send({ type: "message", text: "still here" });
  await eve.waitForText("still here");
  assert.equal(bob.ofType("error").length, 0);
  assert.equal(bob.socket.readyState, WebSocket.OPEN);
  assert.equal((await login(server, "carol")).status, 303);
  const page = await server.chat.services.moderation.audit.page({ limit: 10 });
  assert.deepEqual(page.entries, []);
  const late = await server.join("dave");
  const state = await late.waitFor((e) => e.type === "room");
  assert.equal(state.topic, "");
  assert.equal(state.locked, false);
  assert.equal(state.slowSeconds, 0);
  assert.equal(state.moderator, false);
});

Deno.test("kick closes the user's sockets in that room with 4403, and they may come back", async () => {
  await using server = await startServer(MOD_ENV);
  const mod = await joinAsModerator(server);
  const bob = await server.join("bob");
  const elsewhere = await server.joinWith(bob.cookie, { room: "other" });
  const answer = await moderate(mod, {
    action: "kick",
    nickname: "BOB",
    reason: "spam",
  });
  assert.equal(answer.type, "mod_ok");
  const closed = await bob.closed;
  assert.equal(closed.code, CLOSE.KICKED);
  assert.match(closed.reason, /spam/);
  assert.equal(elsewhere.socket.readyState, WebSocket.OPEN, "other rooms stay");
  const back = await server.joinWith(bob.cookie);
  assert.equal(back.nickname, "bob");
  // A moderator cannot be acted on.
  const untouchable = await moderate(mod, {
    action: "kick",
    nickname: "alice",
  });
  assert.equal(untouchable.code, "bad_target");
  assert.equal(untouchable.action, "kick");
  assert.equal(untouchable.nickname, "alice");
});

Deno.test("ban closes the user's sockets with 4410 and refuses logins and upgrades with the time left, until unbanned", async () => {
  await using server = await startServer(MOD_ENV);
  const mod = await joinAsModerator(server);
  const bob = await server.join("bob");
  const answer = await moderate(mod, {
    action: "ban",
    nickname: "bob",
    duration: "1h",
    reason: "trolling",
  });
  assert.equal(answer.type, "mod_ok");
  assert.ok(answer.until > Date.now() + 3500_000);
  assert.equal((await bob.closed).code, CLOSE.BANNED);
  const upgrade = await upgradeStatus(server, bob.cookie);
  assert.equal(upgrade.status, 403);
  assert.match(upgrade.body, /banned for 60 more minutes/);
  assert.ok(Number(upgrade.retryAfter) > 3500);
  for (const name of ["bob", "B0B"]) {
    const again = await login(server, name);
    assert.equal(again.status, 403, name);
    assert.match(again.body, /banned you from this chat for 60 more min/);
  }
  // The banned browser's session is refused whatever name it picks now.
  const other = await login(server, "robert", { cookie: bob.cookie });
  assert.equal(other.status, 403);
  assert.equal(
    (await moderate(mod, { action: "unban", nickname: "bob" })).type,
    "mod_ok",
  );
  assert.equal((await login(server, "bob")).status, 303);
  assert.equal(
    (await moderate(mod, { action: "unban", nickname: "bob" })).code,
    "not_found",
  );
  const page = await server.chat.services.moderation.audit.page({ limit: 10 });
  assert.deepEqual(page.entries.map((e) => e.action), ["unban", "ban"]);
  assert.equal(page.entries[1].reason, "trolling");
  assert.equal(page.entries[1].by, MOD_NAME);
  assert.equal(page.entries[1].target, "bob");
});

Deno.test("mute stops posting and typing but not reading, and says until when", async () => {
  await using server = await startServer(MOD_ENV);
  const mod = await joinAsModerator(server);
  const bob = await server.join("bob");
  const from = bob.events.length;
  assert.equal(
    (await moderate(mod, { action: "mute", nickname: "bob", duration: "10m" }))
      .type,
    "mod_ok",
  );
  const told = await bob.waitFor((e) => e.type === "room" && e.mutedUntil, {
    from,
  });
  assert.ok(told.mutedUntil > Date.now());
  bob.send({ type: "typing" });
  bob.send({ type: "message", text: "let me speak" });
  const refused = await bob.waitFor((e) => e.type === "error");
  assert.equal(refused.code, "muted");
  assert.equal(refused.until, told.mutedUntil);
  mod.send({ type: "message", text: "you can read this" });
  await bob.waitForText("you can read this");
  assert.equal(mod.events.some((e) => e.text === "let me speak"), false);
  assert.equal(
    (await moderate(mod, { action: "unmute", nickname: "bob" })).type,
    "mod_ok",
  );
  const bobTyping = () =>
    mod.events.filter((e) => e.type === "typing" && e.nickname === "bob");
  assert.equal(bobTyping().length, 0, "a muted user's typing is dropped");
  bob.send({ type: "typing" });
  bob.send({ type: "message", text: "thanks" });
  await mod.waitForText("thanks");
  assert.equal(bobTyping().length, 1, "typing passes again once unmuted");
});

Deno.test("slow mode spaces one user's messages, lock leaves only moderators, topic reaches every member", async () => {
  await using server = await startServer(MOD_ENV);
  const mod = await joinAsModerator(server);
  const bob = await server.join("bob");
  assert.equal(
    (await moderate(mod, { action: "slow", seconds: 60 })).slowSeconds,
    60,
  );
  await bob.waitFor((e) => e.type === "room" && e.slowSeconds === 60);
  bob.send({ type: "message", text: "one" });
  await mod.waitForText("one");
  bob.send({ type: "message", text: "two" });
  const slow = await bob.waitFor((e) => e.type === "error");
  assert.equal(slow.code, "slow_mode");
  assert.ok(slow.retryAfter > 50 && slow.retryAfter <= 60);
  mod.send({ type: "message", text: "mods are not slowed 1" });
  mod.send({ type: "message", text: "mods are not slowed 2" });
  await bob.waitForText("mods are not slowed 2");
  await moderate(mod, { action: "slow", seconds: 0 });

  await moderate(mod, { action: "lock", reason: "raid" });
  const errors = bob.ofType("error").length;
  bob.send({ type: "message", text: "locked out" });
  await eventually(() => bob.ofType("error").length > errors);
  assert.equal(bob.ofType("error").at(-1)!.code, "room_locked");
  mod.send({ type: "message", text: "only us" });
  await bob.waitForText("only us");
  await moderate(mod, { action: "unlock" });
  bob.send({ type: "message", text: "open again" });
  await mod.waitForText("open again");

  await moderate(mod, { action: "topic", text: "Be kind" });
  await bob.waitFor((e) => e.type === "room" && e.topic === "Be kind");
  const late = await server.join("carol");
  const state = await late.waitFor((e) => e.type === "room");
  assert.equal(state.topic, "Be kind");
  const actions =
    (await server.chat.services.moderation.audit.page({ limit: 10 }))
      .entries.map((e) => e.action);
  assert.deepEqual(actions, ["topic", "unlock", "lock", "slow", "slow"]);
  // Bad frames from a moderator are answered, not obeyed.
  assert.equal(
    (await moderate(mod, { action: "slow", seconds: -1 })).code,
    "bad_request",
  );
  assert.equal(
    (await moderate(mod, { action: "ban", nickname: "x", duration: "1y" }))
      .code,
    "bad_request",
  );
  const nuke = await moderate(mod, { action: "nuke" });
  assert.equal(nuke.code, "bad_request");
  assert.equal(nuke.action, "nuke");
});

Deno.test("bans, mutes and the audit log survive a restart over the same KV file", async () => {
  await using dir = await tempDir();
  const env = { ...MOD_ENV, KV_PATH: `${dir.path}/chat.db` };
  let bobCookie: string;
  let modCookie: string;
  {
    await using server = await startServer(env);
    const mod = await joinAsModerator(server);
    modCookie = mod.cookie;
    const bob = await server.join("bob");
    bobCookie = bob.cookie;
    await server.join("carol");
    await moderate(mod, {
      action: "ban",
      nickname: "bob",
      duration: "permanent",
    });
    await moderate(mod, { action: "mute", nickname: "carol", duration: "1d" });
    await moderate(mod, { action: "topic", text: "Kept" });
  }
  await using server = await startServer(env);
  const again = await login(server, "bob");
  assert.equal(again.status, 403);
  assert.match(again.body, /banned you from this chat/);
  assert.equal((await upgradeStatus(server, bobCookie)).status, 403);
  // The moderator's role is in KV too: the same cookie still moderates.
  const mod = await server.joinWith(modCookie);
  const state = await mod.waitFor((e) => e.type === "room");
  assert.equal(state.topic, "Kept");
  const actions =
    (await server.chat.services.moderation.audit.page({ limit: 10 }))
      .entries.map((e) => e.action);
  assert.deepEqual(actions, ["topic", "mute", "ban"]);
  assert.equal(state.moderator, true);
  assert.notEqual(
    server.chat.services.moderation.state.mutedUntil("carol", Date.now()),
    undefined,
  );
});

Deno.test("over the kv bus, a ban on one instance closes the user's sockets on the other", async () => {
  await using pair = await startPair({ ...MOD_ENV, BUS: "kv" });
  const mod = await joinAsModerator(pair.a);
  const bob = await pair.b.join("bob");
  const watcher = await pair.b.join("carol");
  assert.equal(
    (await moderate(mod, { action: "ban", nickname: "bob", duration: "10m" }))
      .type,
    "mod_ok",
  );
  assert.equal((await bob.closed).code, CLOSE.BANNED);
  assert.equal((await login(pair.b, "bob")).status, 403);
  assert.equal((await upgradeStatus(pair.b, bob.cookie)).status, 403);
  assert.equal(watcher.socket.readyState, WebSocket.OPEN);
  // Room rules cross too.
  await moderate(mod, { action: "topic", text: "Both" });
  await watcher.waitFor((e) => e.type === "room" && e.topic === "Both");
});

Deno.test("a ban by address refuses every other name from that address, but never a moderator", async () => {
  await using server = await startServer(MOD_ENV);
  const mod = await joinAsModerator(server);
  const bob = await server.join("bob");
  const carolCookie = (await login(server, "carol")).cookie;
  const answer = await moderate(mod, {
    action: "ban",
    nickname: "bob",
    duration: "10m",
    address: true,
  });
  assert.equal(answer.type, "mod_ok");
  assert.equal((await bob.closed).code, CLOSE.BANNED);
  // Everyone here is 127.0.0.1: a new name and an old session are refused.
  assert.equal((await login(server, "mallory")).status, 403);
  await assert.rejects(TestClient.open(server, carolCookie));
  // The moderator logs in again from the same address (this browser).
  const again = await login(server, MOD_NAME, {
    cookie: mod.cookie,
    password: MOD_PASSWORD,
  });
  assert.equal(again.status, 303, "a moderator is not locked out");
  await using second = await TestClient.join(server, again.cookie);
  assert.equal(second.nickname, MOD_NAME);
  await moderate(second, { action: "unban", nickname: "bob" });
  assert.equal((await login(server, "mallory")).status, 303);
});
