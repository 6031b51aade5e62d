// Per-address limits: one person with a laptop may not lift the per-user
// rate limit by rotating free sessions, flood the login form, or fill the
// store with rooms. Every client here comes from 127.0.0.1, so one address.
import assert from "node:assert/strict";
import {
  getPage,
  HIGH_RATE,
  joinAs,
  loginOk,
  startPair,
  startServer,
  TestClient,
} from "./helpers/harness.ts";

async function postLogin(
  server: { origin: string },
  nickname: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await fetch(`${server.origin}/login`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: server.origin,
      ...headers,
    },
    body: new URLSearchParams({ nickname }),
    redirect: "manual",
  });
}

async function statuses(responses: Promise<Response>[]): Promise<number[]> {
  return await Promise.all(responses.map(async (p) => {
    const res = await p;
    await res.body?.cancel();
    return res.status;
  }));
}

const FEW_LOGINS = { LOGIN_RATE_BURST: "3", LOGIN_RATE_PER_MINUTE: "0.01" };

Deno.test("POST /login answers 429 with Retry-After once an address spends its burst", async () => {
  await using server = await startServer(FEW_LOGINS);
  for (const name of ["ann", "bob", "cat"]) {
    const res = await postLogin(server, name);
    await res.body?.cancel();
    assert.equal(res.status, 303, `login of ${name}`);
  }
  const refused = await postLogin(server, "dan");
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  assert.match(await refused.text(), /Too many logins from your address/);
  const zh = await postLogin(server, "eve", { "accept-language": "zh-CN" });
  assert.equal(zh.status, 429);
  assert.match(await zh.text(), /登录次数过多/);
});

Deno.test("POST /login ignores X-Forwarded-For unless TRUSTED_PROXIES names the peer", async () => {
  await using server = await startServer(FEW_LOGINS);
  // A client writing its own header must not get a fresh bucket per line.
  const got = await statuses(
    ["1", "2", "3", "4", "5"].map((n) =>
      postLogin(server, `spoof${n}`, { "x-forwarded-for": `203.0.113.${n}` })
    ),
  );
  assert.deepEqual(got.filter((s) => s === 303).length, 3);
  assert.deepEqual(got.filter((s) => s === 429).length, 2);
});

Deno.test("POST /login counts each client behind a trusted proxy by its own address", async () => {
  await using server = await startServer({
    ...FEW_LOGINS,
    TRUSTED_PROXIES: "loopback",
  });
  // Five people behind the proxy each log in once: nobody is refused.
  const distinct = await statuses(
    ["1", "2", "3", "4", "5"].map((n) =>
      postLogin(server, `user${n}`, { "x-forwarded-for": `203.0.113.${n}` })
    ),
  );
  assert.deepEqual(distinct, [303, 303, 303, 303, 303]);
  // One of them logging in again and again is held to the burst; a hop
  // they wrote themselves before the proxy's own entry changes nothing.
  const repeated = await statuses(
    ["a", "b", "c"].map((n) =>
      postLogin(server, `again${n}`, {
        "x-forwarded-for": `198.51.100.${n.charCodeAt(0)}, 203.0.113.1`,
      })
    ),
  );
  assert.deepEqual(repeated, [303, 303, 429]);
});

Deno.test("TRUSTED_PROXIES with a bad entry stops the start with a clear error", async () => {
  await assert.rejects(
    () => startServer({ TRUSTED_PROXIES: "10.0.0.0/8, not-an-address" }),
    /Invalid TRUSTED_PROXIES "10\.0\.0\.0\/8, not-an-address": /,
  );
});

Deno.test("Messages are limited per address across all of its sessions", async () => {
  await using server = await startServer({
    ...HIGH_RATE,
    ADDRESS_RATE_BURST: "6",
    ADDRESS_RATE_PER_SECOND: "0.01",
  });
  await using watcher = await server.join("watcher");
  const senders: TestClient[] = [];
  for (const name of ["s1", "s2", "s3"]) senders.push(await server.join(name));
  // Each fresh session has a full bucket of its own; the address does not.
  for (const sender of senders) {
    for (let i = 0; i < 4; i++) sender.send({ type: "message", text: `x${i}` });
  }
  const refusals = () =>
    senders.flatMap((s) =>
      s.ofType("error").filter((e) => e.code === "rate_limited")
    );
  const deadline = Date.now() + 5000;
  while (refusals().length < 6 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(refusals().length, 6, "12 sent, 6 over the address's burst");
  assert.ok(refusals().every((e) => Number(e.retryAfter) > 0));
  // Every message that was not refused arrives, and nothing else does.
  await watcher.waitFor(() => watcher.ofType("message").length >= 6, {
    what: "six messages",
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(watcher.ofType("message").length, 6);
});

Deno.test("A new room is refused with 429 once an address made its share", async () => {
  await using server = await startServer({
    ROOM_CREATE_BURST: "2",
    ROOM_CREATE_PER_HOUR: "0.01",
  });
  const cookie = await loginOk(server, "maker");
  assert.equal((await getPage(server, "/chat/one", cookie)).status, 200);
  assert.equal((await getPage(server, "/chat/two", cookie)).status, 200);
  const third = await getPage(server, "/chat/three", cookie);
  assert.equal(third.status, 429);
  assert.ok(Number(third.headers.get("retry-after")) >= 1);
  assert.match(third.body, /made many new rooms lately/);
  // Rooms that exist, the lobby among them, stay open to the same address.
  assert.equal((await getPage(server, "/chat/one", cookie)).status, 200);
  assert.equal((await getPage(server, "/chat", cookie)).status, 200);
  await using inOne = await TestClient.join(server, cookie, { room: "one" });
  assert.equal(inOne.welcome?.room, "one");
  // A raw client skipping the page is refused at the upgrade.
  const upgrade = await fetch(`${server.origin}/ws/four`, {
    headers: { cookie, upgrade: "websocket" },
  });
  await upgrade.body?.cancel();
  assert.equal(upgrade.status, 429);
});

Deno.test("MAX_ROOMS caps the rooms of every instance sharing one KV", async () => {
  await using pair = await startPair({ MAX_ROOMS: "3" });
  const { a, b } = pair;
  const onA = await loginOk(a, "ana");
  const onB = await loginOk(b, "ben");
  // The lobby is a room too: with it, three exist after "red" and "blue".
  assert.equal((await getPage(a, "/chat", onA)).status, 200);
  assert.equal((await getPage(a, "/chat/red", onA)).status, 200);
  assert.equal((await getPage(b, "/chat/blue", onB)).status, 200);
  await new Promise((r) => setTimeout(r, 1100)); // past the cached count
  for (const [server, cookie] of [[a, onA], [b, onB]] as const) {
    const full = await getPage(server, "/chat/green", cookie);
    assert.equal(full.status, 503);
    assert.match(full.body, /as many rooms as it can keep/);
    // What exists stays reachable from either instance.
    assert.equal((await getPage(server, "/chat/red", cookie)).status, 200);
    assert.equal((await getPage(server, "/chat/blue", cookie)).status, 200);
  }
  await using inRed = await joinAs(b, "cyd", { room: "red" });
  assert.equal(inRed.welcome?.room, "red");
});

Deno.test("Scrollback answers 429 with Retry-After once an address spends its burst", async () => {
  await using server = await startServer({
    SCROLLBACK_RATE_BURST: "3",
    SCROLLBACK_RATE_PER_SECOND: "0.01",
  });
  const cookie = await loginOk(server, "reader");
  const path = "/api/rooms/lobby/messages?limit=10";
  for (let i = 0; i < 3; i++) {
    assert.equal((await getPage(server, path, cookie)).status, 200);
  }
  const refused = await getPage(server, path, cookie);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  assert.match(
    JSON.parse(refused.body).error,
    /^Too many requests: wait \d+ s/,
  );
  // Another session from the same address shares the bucket.
  const other = await loginOk(server, "reader2");
  assert.equal((await getPage(server, path, other)).status, 429);
});

Deno.test("Unread counts answer 429 once an address spends its burst; the plain room list never does", async () => {
  await using server = await startServer({
    SCROLLBACK_RATE_BURST: "2",
    SCROLLBACK_RATE_PER_SECOND: "0.01",
  });
  const cookie = await loginOk(server, "counter");
  const path = "/api/rooms?read=lobby:0";
  assert.equal((await getPage(server, path, cookie)).status, 200);
  assert.equal((await getPage(server, path, cookie)).status, 200);
  const refused = await getPage(server, path, cookie);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  // The list without counts reads one head per room: it stays open.
  assert.equal((await getPage(server, "/api/rooms", cookie)).status, 200);
});
