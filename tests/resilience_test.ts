/**
 * What keeps one client from hurting the others: the rate limit, connection
 * limits, slow-consumer eviction, every way a socket can leave, churn, and
 * the guard around each socket's handlers. All against the real app on a
 * real port.
 */
import assert from "node:assert/strict";
import {
  barrier,
  count,
  eventually,
  exchange,
  healthz,
  HIGH_RATE,
  loginOk,
  logout,
  seenJoin,
  startServer,
  TestClient,
  type TestServer,
  texts,
} from "./helpers/harness.ts";
import { nicknameKey } from "../lib/auth/nicknames.ts";
import { openFaultyKv } from "./helpers/kv_faults.ts";
import { concat, encodeFrame, OP, RawSocket } from "./helpers/raw_ws.ts";

const MiB = 1024 * 1024;

/** A burst of 3, then a token a second. */
const TIGHT_RATE = { RATE_BURST: "3", RATE_PER_SECOND: "1" };

Deno.test("rate limit refuses the 4th quick message with rate_limited and retryAfter, and posts nothing", async () => {
  await using server = await startServer(TIGHT_RATE);
  const watcher = await server.join("w");
  const alice = await server.join("alice");
  for (let i = 1; i <= 4; i++) alice.send({ type: "message", text: `m${i}` });
  const error = await alice.waitFor((e) => e.type === "error");
  assert.equal(error.code, "rate_limited");
  assert.equal(typeof error.retryAfter, "number");
  // One token per second: the wait is at most a second, rounded up to 0.1 s.
  assert.ok(
    error.retryAfter > 0 && error.retryAfter <= 1,
    String(error.retryAfter),
  );
  await barrier(watcher, [watcher, alice]);
  assert.deepEqual(texts(watcher.events, "alice"), ["m1", "m2", "m3"]);
  assert.deepEqual(texts(alice.events, "alice"), ["m1", "m2", "m3"]);
  assert.equal(alice.ofType("error").length, 1);
});

Deno.test("rate limit is one bucket for all tabs of a user", async () => {
  await using server = await startServer(TIGHT_RATE);
  const watcher = await server.join("w");
  const tab1 = await server.join("tabby");
  const tab2 = await server.joinWith(tab1.cookie);
  // Each send waits for its echo, so the order across tabs is known.
  for (
    const [tab, text] of [[tab1, "t1"], [tab2, "t2"], [tab1, "t3"]] as const
  ) {
    tab.send({ type: "message", text });
    await tab.waitForText(text);
  }
  tab2.send({ type: "message", text: "t4" });
  const error = await tab2.waitFor((e) => e.type === "error");
  assert.equal(error.code, "rate_limited");
  tab1.send({ type: "message", text: "t5" });
  assert.equal(
    (await tab1.waitFor((e) => e.type === "error")).code,
    "rate_limited",
  );
  await barrier(watcher, [watcher, tab1, tab2]);
  assert.deepEqual(texts(watcher.events, "tabby"), ["t1", "t2", "t3"]);
});

Deno.test("rate limit closes a user who keeps sending past 5x the burst with 1008", async () => {
  await using server = await startServer(TIGHT_RATE);
  const watcher = await server.join("w");
  const spammer = await server.join("spam");
  // 3 pass, 15 are refused (5 x burst), the 16th refusal closes.
  for (let i = 1; i <= 3 + 16; i++) {
    spammer.send({ type: "message", text: `s${i}` });
  }
  const closed = await spammer.closed;
  assert.equal(closed.code, 1008);
  assert.equal(spammer.ofType("error").length, 15);
  assert.ok(spammer.ofType("error").every((e) => e.code === "rate_limited"));
  await watcher.waitForNotice("leave", "spam");
  await barrier(watcher);
  assert.deepEqual(texts(watcher.events, "spam"), ["s1", "s2", "s3"]);
  assert.equal(count(watcher, "leave", "spam"), 1);
});

for (
  const [variable, status] of [
    ["MAX_CONNECTIONS_PER_IP", 429],
    ["MAX_CONNECTIONS", 503],
  ] as const
) {
  Deno.test(`connection limit ${variable}=2 refuses the 3rd upgrade with ${status} before upgrading`, async () => {
    await using server = await startServer({ [variable]: "2" });
    const a = await server.join("many");
    const cookie = a.cookie;
    await server.joinWith(cookie);
    await assert.rejects(TestClient.open(server, cookie));
    const refused = await RawSocket.upgrade(server, { cookie });
    assert.equal(refused.response.status, status);
    assert.equal(refused.response.headers.get("retry-after"), "5");
    assert.equal(refused.socket, undefined);
    const health = await healthz(server);
    assert.equal(health.body.connections, 2);
    // A slot frees when a socket closes.
    await a.close();
    await eventually(async () =>
      (await healthz(server)).body.connections === 1
    );
    await server.joinWith(cookie);
  });
}

Deno.test("a room loses, repeats or reorders no message when 3 clients send 300 each at once", async () => {
  await using server = await startServer(HIGH_RATE);
  const clients: TestClient[] = [];
  for (const name of ["ann", "ben", "cat"]) {
    clients.push(await server.join(name));
  }
  // Everyone is in before anyone sends, so all three see all 900.
  await seenJoin(clients.slice(0, 2), "cat");
  await exchange(clients, 300, (name, i) => `${name} ${i}`);
});

/**
 * Posts large messages one at a time (each waits for its echo, so no batch
 * frame is larger than one message) until `done()` or `max` messages. The
 * sender is a raw socket because Deno's WebSocket client adds about 40 ms of
 * latency to each frame over 1 kB (Nagle against delayed ACKs), which would
 * make a flood of thousands take minutes.
 */
async function flood(
  sender: RawSocket,
  done: () => boolean,
  options: { max: number; size: number },
): Promise<string[]> {
  const sent: string[] = [];
  for (let i = 0; i < options.max && !done(); i++) {
    const text = `${i} ${"x".repeat(options.size)}`;
    await sender.send({ type: "message", text });
    sent.push(text);
    await sender.waitFor((e) => e.type === "message" && e.text === text);
  }
  return sent;
}

/** Joins `nickname` over a raw socket, which the test must drop. */
async function rawJoin(
  server: TestServer,
  nickname: string,
): Promise<RawSocket> {
  return await RawSocket.join(server, {
    cookie: await loginOk(server, nickname),
  });
}

const SLOW_ENV = {
  ...HIGH_RATE,
  SLOW_CLIENT_BYTES: "65536",
  MAX_MESSAGE_CHARS: "8000",
};

Deno.test("slow consumer that stops reading is evicted with 1013 and the others lose nothing", async () => {
  await using server = await startServer(SLOW_ENV);
  using alice = await rawJoin(server, "alice");
  const bob = await server.join("bob");
  // The welcome is never read: this peer reads nothing at all.
  using slow = await RawSocket.open(server, {
    cookie: await loginOk(server, "slow"),
  });
  await bob.waitForNotice("join", "slow");
  assert.equal((await healthz(server)).body.connections, 3);

  const rssBefore = Deno.memoryUsage().rss;
  const started = Date.now();
  const evicted = () => count(bob, "leave", "slow") > 0;
  // Loopback buffers a few MiB in the kernel before the server's own
  // buffer grows, so eviction needs roughly 4 to 8 MiB to the slow peer.
  const sent = await flood(alice, evicted, { max: 4000, size: 7000 });
  assert.ok(evicted(), `not evicted after ${sent.length} messages`);
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds < 10, `eviction took ${seconds} s`);
  const rssGrowth = Deno.memoryUsage().rss - rssBefore;
  assert.ok(rssGrowth < 200 * MiB, `rss grew by ${rssGrowth / MiB} MiB`);

  await eventually(async () => (await healthz(server)).body.connections === 2);
  await barrier(bob);
  await alice.waitFor((e) =>
    e.type === "message" && e.text === bob.events.at(-1)!.text
  );
  for (const client of [alice, bob]) {
    assert.equal(count(client, "leave", "slow"), 1);
    assert.deepEqual(texts(client.events, "alice"), sent);
    const ids = client.events.filter((e) => e.type === "message").map((e) =>
      e.id
    );
    for (let i = 1; i < ids.length; i++) assert.equal(ids[i], ids[i - 1] + 1);
  }
  assert.equal(bob.socket.readyState, WebSocket.OPEN);
  assert.equal(alice.eof, false);

  // Once it reads, the peer gets what was queued and then the close.
  const closed = await slow.waitForClose(10_000);
  assert.deepEqual(closed, {
    kind: "close",
    code: 1013,
    reason: "Too slow: reconnect to catch up",
  });
});

Deno.test("slow consumer eviction spares readers that keep up with a burst", async () => {
  // SLOW_CLIENT_BYTES is about unsent data piling up; a reader that keeps up
  // has none once the event loop has run. Deno counts a frame in
  // bufferedAmount from send() until its write completes on a later turn, so
  // a check made right after send() also counts the burst just sent.
  await using server = await startServer(SLOW_ENV);
  using alice = await rawJoin(server, "alice");
  const bob = await server.join("bob");
  await alice.waitFor((e) => e.type === "join" && e.nickname === "bob");
  // 20 x 7 kB in one write: about twice SLOW_CLIENT_BYTES reaches each
  // reader within a few turns, on an idle loopback link.
  const burst = Array.from(
    { length: 20 },
    (_, i) => `${i} ${"y".repeat(7000)}`,
  );
  await alice.write(
    concat(
      burst.map((text) =>
        encodeFrame(OP.TEXT, JSON.stringify({ type: "message", text }))
      ),
    ),
  );
  // An eviction closes right after the frame that tipped it went out, so
  // one more message after the burst is what tells the readers are still in.
  await alice.waitFor((e) => e.type === "message" && e.text === burst.at(-1));
  await alice.send({ type: "message", text: "after the burst" });
  try {
    await bob.waitForText("after the burst");
  } catch (err) {
    const closed = bob.socket.readyState === WebSocket.CLOSED
      ? await bob.closed
      : undefined;
    throw new Error(
      `bob, who reads everything, was closed: ${JSON.stringify(closed)}`,
      { cause: err },
    );
  }
  await alice.waitFor((e) =>
    e.type === "message" && e.text === "after the burst"
  );
  burst.push("after the burst");
  assert.deepEqual(texts(bob.events, "alice"), burst);
  assert.equal(alice.eof, false);
});

Deno.test("churn of 2000 connects and disconnects leaves no connection, user, room or nickname behind", async () => {
  await using server = await startServer({
    NICK_GRACE_SECONDS: "0",
    MAX_CONNECTIONS_PER_IP: "1000",
  });
  const workers = 20;
  const cycles = 2000 / workers;
  const nicks = Array.from({ length: workers }, (_, i) => `churn${i}`);
  const cookies: string[] = [];
  for (const nick of nicks) cookies.push(await loginOk(server, nick));

  // Half the cycles close cleanly, half drop the TCP connection.
  const cycle = async (cookie: string, n: number) => {
    if (n % 2 === 0) {
      const client = await TestClient.join(server, cookie);
      await client.close();
    } else {
      const raw = await RawSocket.join(server, { cookie });
      raw.abort();
    }
  };
  // A warm-up first, so the baseline includes what the first cycles allocate once.
  await Promise.all(cookies.map((cookie) => cycle(cookie, 0)));
  await eventually(() => server.chat.hub.stats().connections === 0);
  const rssBefore = Deno.memoryUsage().rss;

  await Promise.all(cookies.map(async (cookie) => {
    for (let n = 0; n < cycles; n++) await cycle(cookie, n);
  }));

  await eventually(() => server.chat.hub.stats().connections === 0, {
    what: "every socket to be counted out",
  });
  assert.deepEqual(server.chat.hub.stats(), {
    connections: 0,
    users: 0,
    rooms: 0,
  });
  // rooms() may be async; awaiting covers both.
  assert.deepEqual(await server.chat.hub.rooms(), []);
  assert.deepEqual(server.chat.hub.users("lobby"), []);
  const health = await healthz(server);
  assert.equal(health.body.connections, 0);
  assert.equal(health.body.users, 0);
  await eventually(async () => {
    for (const nick of nicks) {
      if (await server.chat.services.nicknames.holder(nick) !== undefined) {
        return false;
      }
    }
    return true;
  }, { what: "every nickname to be free" });
  const rssGrowth = Deno.memoryUsage().rss - rssBefore;
  assert.ok(rssGrowth < 150 * MiB, `rss grew by ${rssGrowth / MiB} MiB`);
});

interface LeavePath {
  name: string;
  env?: Record<string, string>;
  /** Connects `cookie` as a member of the room and makes it leave; returns how its socket ended. */
  leave(
    server: TestServer,
    cookie: string,
    watcher: TestClient,
  ): Promise<unknown>;
  ended: unknown;
}

const leavePaths: LeavePath[] = [
  {
    name: "client close",
    async leave(server, cookie) {
      const client = await TestClient.join(server, cookie);
      await client.close(1000);
      return (await client.closed).code;
    },
    ended: 1000,
  },
  {
    name: "TCP reset without a close frame",
    async leave(server, cookie, watcher) {
      const raw = await RawSocket.join(server, { cookie });
      await watcher.waitForNotice("join", "leaver");
      raw.abort();
      return "aborted";
    },
    ended: "aborted",
  },
  {
    // Deno pings after the idle timeout and closes with 1001 when no pong comes.
    name: "idle timeout",
    env: { IDLE_TIMEOUT_SECONDS: "1" },
    async leave(server, cookie) {
      using raw = await RawSocket.join(server, { cookie, answerPings: false });
      return await raw.waitForClose(5000);
    },
    ended: {
      kind: "close",
      code: 1001,
      reason: "No response from ping frame.",
    },
  },
  {
    name: "slow-consumer eviction",
    env: SLOW_ENV,
    async leave(server, cookie, watcher) {
      using raw = await RawSocket.open(server, { cookie });
      using pusher = await rawJoin(server, "pusher");
      await watcher.waitForNotice("join", "leaver");
      await flood(pusher, () => count(watcher, "leave", "leaver") > 0, {
        max: 4000,
        size: 7000,
      });
      return await raw.waitForClose(10_000);
    },
    ended: {
      kind: "close",
      code: 1013,
      reason: "Too slow: reconnect to catch up",
    },
  },
  {
    name: "logout",
    async leave(server, cookie) {
      const client = await TestClient.join(server, cookie);
      const res = await logout(server, cookie);
      assert.equal(res.status, 303);
      return (await client.closed).code;
    },
    ended: 4401,
  },
];

for (const path of leavePaths) {
  Deno.test(`leave by ${path.name} is announced exactly once`, async () => {
    await using server = await startServer({ ...HIGH_RATE, ...path.env });
    const watcher = await server.join("watcher");
    const cookie = await loginOk(server, "leaver");
    assert.deepEqual(await path.leave(server, cookie, watcher), path.ended);
    await watcher.waitForNotice("leave", "leaver");
    await barrier(watcher);
    assert.equal(count(watcher, "join", "leaver"), 1);
    assert.equal(count(watcher, "leave", "leaver"), 1);
    await eventually(() => server.chat.hub.stats().connections === 1);
    assert.deepEqual(server.chat.hub.users("lobby"), ["watcher"]);
  });
}

Deno.test("an unexpected error in one socket closes only it with 1011 and logs the nickname", async () => {
  // Nothing a client sends can make a handler throw, so the fault comes from
  // the KV handle createApp accepts: reading the nickname lease for "boom"
  // fails once the fault is armed, which breaks that socket's join in its
  // open handler.
  using store = await openFaultyKv();
  await using server = await startServer({}, { kv: store.kv });
  const watcher = await server.join("watcher");
  const cookie = await loginOk(server, "boom");
  const other = await server.join("other");
  // The lease is stored under the name's key (its skeleton), not the name.
  const boomKey = nicknameKey("boom");
  store.failGets((key) => key.includes(boomKey), "injected KV failure");
  const victim = await TestClient.open(server, cookie);
  const closed = await victim.closed;
  assert.equal(closed.code, 1011);
  const line = server.logs.find((l) => l.includes("Unexpected error"));
  assert.ok(line, `no log line in ${JSON.stringify(server.logs)}`);
  assert.match(line, /"nickname":"boom"/);
  assert.match(line, /injected KV failure/);
  // The others are untouched and never heard of "boom".
  await barrier(watcher, [watcher, other]);
  other.send({ type: "message", text: "still fine" });
  await watcher.waitForText("still fine");
  assert.equal(count(watcher, "join", "boom"), 0);
  assert.equal(count(watcher, "leave", "boom"), 0);
  await eventually(() => server.chat.hub.stats().connections === 2);
});

Deno.test("a room whose KV fails closes its joiners with 1011 and starts again once KV answers", async () => {
  using store = await openFaultyKv();
  // The room's head read fails: KV down as the room starts.
  store.failGets(
    (key) => key[0] === "seq" && key[1] === "flaky",
    "injected KV outage",
  );
  await using server = await startServer({}, { kv: store.kv });
  const cookie = await loginOk(server, "patient");
  const first = await TestClient.open(server, cookie, { room: "flaky" });
  assert.equal((await first.closed).code, 1011);
  assert.ok(server.logs.some((l) => l.includes("injected KV outage")));
  store.heal();
  const second = await server.joinWith(cookie, { room: "flaky" });
  assert.deepEqual(second.welcome.users, ["patient"]);
  second.send({ type: "message", text: "back" });
  assert.equal((await second.waitForText("back")).id, 1);
});
