/**
 * What keeps one client from hurting the others: the rate limit, connection
 * limits, slow-consumer eviction, every way a socket can leave, churn, and
 * the guard around each socket's handlers. All against the real app on a
 * real port.
 */
import assert from "node:assert/strict";
import {
  eventually,
  loginOk,
  startServer,
  TestClient,
  type TestServer,
} from "./helpers/harness.ts";
import { encodeFrame, OP, RawSocket } from "./helpers/raw_ws.ts";

// deno-lint-ignore no-explicit-any
type Event = any;

const HIGH_RATE = { RATE_BURST: "100000", RATE_PER_SECOND: "100000" };

let barriers = 0;

/**
 * Posts a unique message from `from` and waits until every client in `all`
 * has it. A room is delivered in order, so after this nothing sent earlier is
 * still on its way.
 */
async function barrier(from: TestClient, all: TestClient[] = [from]) {
  const text = `barrier ${++barriers}`;
  from.send({ type: "message", text });
  for (const client of all) await client.waitForText(text);
}

function presence(client: { events: Event[] }, type: string, nickname: string) {
  return client.events.filter((e) => e.type === type && e.nickname === nickname)
    .length;
}

function messageTexts(client: { events: Event[] }, nickname?: string) {
  return client.events.filter((e) =>
    e.type === "message" && (nickname === undefined || e.nickname === nickname)
  ).map((e) => e.text);
}

async function healthz(server: TestServer) {
  const res = await fetch(`${server.url}/healthz`);
  return { status: res.status, body: await res.json() };
}

const MiB = 1024 * 1024;

Deno.test("rate limit refuses the 4th quick message with rate_limited and retryAfter, and posts nothing", async () => {
  const server = await startServer({ RATE_BURST: "3", RATE_PER_SECOND: "1" });
  try {
    const watcher = await TestClient.join(server, await loginOk(server, "w"));
    const alice = await TestClient.join(server, await loginOk(server, "alice"));
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
    assert.deepEqual(messageTexts(watcher, "alice"), ["m1", "m2", "m3"]);
    assert.deepEqual(messageTexts(alice, "alice"), ["m1", "m2", "m3"]);
    assert.equal(alice.ofType("error").length, 1);
    await alice.close();
    await watcher.close();
  } finally {
    await server.close();
  }
});

Deno.test("rate limit is one bucket for all tabs of a user", async () => {
  const server = await startServer({ RATE_BURST: "3", RATE_PER_SECOND: "1" });
  try {
    const watcher = await TestClient.join(server, await loginOk(server, "w"));
    const cookie = await loginOk(server, "tabby");
    const tab1 = await TestClient.join(server, cookie);
    const tab2 = await TestClient.join(server, cookie);
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
    assert.deepEqual(messageTexts(watcher, "tabby"), ["t1", "t2", "t3"]);
    await tab1.close();
    await tab2.close();
    await watcher.close();
  } finally {
    await server.close();
  }
});

Deno.test("rate limit closes a user who keeps sending past 5x the burst with 1008", async () => {
  const server = await startServer({ RATE_BURST: "3", RATE_PER_SECOND: "1" });
  try {
    const watcher = await TestClient.join(server, await loginOk(server, "w"));
    const spammer = await TestClient.join(
      server,
      await loginOk(server, "spam"),
    );
    // 3 pass, 15 are refused (5 x burst), the 16th refusal closes.
    for (let i = 1; i <= 3 + 16; i++) {
      spammer.send({ type: "message", text: `s${i}` });
    }
    const closed = await spammer.closed;
    assert.equal(closed.code, 1008);
    assert.equal(spammer.ofType("error").length, 15);
    assert.ok(spammer.ofType("error").every((e) => e.code === "rate_limited"));
    await watcher.waitFor((e) => e.type === "leave" && e.nickname === "spam");
    await barrier(watcher);
    assert.deepEqual(messageTexts(watcher, "spam"), ["s1", "s2", "s3"]);
    assert.equal(presence(watcher, "leave", "spam"), 1);
    await watcher.close();
  } finally {
    await server.close();
  }
});

for (
  const [variable, status] of [
    ["MAX_CONNECTIONS_PER_IP", 429],
    ["MAX_CONNECTIONS", 503],
  ] as const
) {
  Deno.test(`connection limit ${variable}=2 refuses the 3rd upgrade with ${status} before upgrading`, async () => {
    const server = await startServer({ [variable]: "2" });
    try {
      const cookie = await loginOk(server, "many");
      const a = await TestClient.join(server, cookie);
      const b = await TestClient.join(server, cookie);
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
      const c = await TestClient.join(server, cookie);
      await b.close();
      await c.close();
    } finally {
      await server.close();
    }
  });
}

Deno.test("no message is lost, repeated or reordered when 3 clients send 300 each at once", async () => {
  const server = await startServer(HIGH_RATE);
  try {
    const names = ["ann", "ben", "cat"];
    const clients: TestClient[] = [];
    for (const name of names) {
      clients.push(await TestClient.join(server, await loginOk(server, name)));
    }
    // Everyone is in before anyone sends, so all three see all 900.
    for (const client of clients.slice(0, 2)) {
      await client.waitFor((e) => e.type === "join" && e.nickname === "cat");
    }
    for (let i = 0; i < 300; i++) {
      for (const [k, client] of clients.entries()) {
        client.send({ type: "message", text: `${names[k]} ${i}` });
      }
    }
    for (const client of clients) {
      await eventually(() => client.ofType("message").length >= 900, {
        timeoutMs: 10_000,
        what: "900 messages",
      });
    }
    const reference = clients[0].ofType("message").map((e) =>
      `${e.id}:${e.text}`
    );
    for (const client of clients) {
      const messages = client.ofType("message");
      assert.equal(messages.length, 900);
      for (let i = 1; i < messages.length; i++) {
        assert.equal(messages[i].id, messages[i - 1].id + 1);
      }
      for (const name of names) {
        assert.deepEqual(
          messageTexts(client, name),
          Array.from({ length: 300 }, (_, i) => `${name} ${i}`),
        );
      }
      // Everyone saw the same id for the same message.
      assert.deepEqual(messages.map((e) => `${e.id}:${e.text}`), reference);
    }
    for (const client of clients) await client.close();
  } finally {
    await server.close();
  }
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

const SLOW_ENV = {
  ...HIGH_RATE,
  SLOW_CLIENT_BYTES: "65536",
  MAX_MESSAGE_CHARS: "8000",
};

Deno.test("slow consumer that stops reading is evicted with 1013 and the others lose nothing", async () => {
  const server = await startServer(SLOW_ENV);
  let slow: RawSocket | undefined;
  try {
    const alice = await RawSocket.join(server, {
      cookie: await loginOk(server, "alice"),
    });
    const bob = await TestClient.join(server, await loginOk(server, "bob"));
    // The welcome is never read: this peer reads nothing at all.
    slow = await RawSocket.open(server, {
      cookie: await loginOk(server, "slow"),
    });
    await bob.waitFor((e) => e.type === "join" && e.nickname === "slow");
    assert.equal((await healthz(server)).body.connections, 3);

    const rssBefore = Deno.memoryUsage().rss;
    const started = Date.now();
    const evicted = () => presence(bob, "leave", "slow") > 0;
    // Loopback buffers a few MiB in the kernel before the server's own
    // buffer grows, so eviction needs roughly 4 to 8 MiB to the slow peer.
    const sent = await flood(alice, evicted, { max: 4000, size: 7000 });
    assert.ok(evicted(), `not evicted after ${sent.length} messages`);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(seconds < 10, `eviction took ${seconds} s`);
    const rssGrowth = Deno.memoryUsage().rss - rssBefore;
    assert.ok(rssGrowth < 200 * MiB, `rss grew by ${rssGrowth / MiB} MiB`);

    await eventually(async () =>
      (await healthz(server)).body.connections === 2
    );
    await barrier(bob);
    await alice.waitFor((e) =>
      e.type === "message" && e.text === bob.events.at(-1).text
    );
    for (const client of [alice, bob]) {
      assert.equal(presence(client, "leave", "slow"), 1);
      assert.deepEqual(messageTexts(client, "alice"), sent);
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
    alice.abort();
    await bob.close();
  } finally {
    slow?.abort();
    await server.close();
  }
});

Deno.test("slow consumer eviction spares readers that keep up with a burst", async () => {
  // SLOW_CLIENT_BYTES is about unsent data piling up; a reader that keeps up
  // has none once the event loop has run. Deno counts a frame in
  // bufferedAmount from send() until its write completes on a later turn, so
  // a check made right after send() also counts the burst just sent.
  const server = await startServer(SLOW_ENV);
  try {
    const alice = await RawSocket.join(server, {
      cookie: await loginOk(server, "alice"),
    });
    const bob = await TestClient.join(server, await loginOk(server, "bob"));
    await alice.waitFor((e) => e.type === "join" && e.nickname === "bob");
    // 20 x 7 kB in one write: about twice SLOW_CLIENT_BYTES reaches each
    // reader within a few turns, on an idle loopback link.
    const texts = Array.from(
      { length: 20 },
      (_, i) => `${i} ${"y".repeat(7000)}`,
    );
    await alice.write(concatFrames(texts));
    // An eviction closes right after the frame that tipped it went out, so
    // one more message after the burst is what tells the readers are still in.
    await alice.waitFor((e) => e.type === "message" && e.text === texts.at(-1));
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
    texts.push("after the burst");
    assert.deepEqual(messageTexts(bob, "alice"), texts);
    assert.equal(alice.eof, false);
    alice.abort();
    await bob.close();
  } finally {
    await server.close();
  }
});

function concatFrames(texts: string[]): Uint8Array {
  const frames = texts.map((text) =>
    encodeFrame(OP.TEXT, JSON.stringify({ type: "message", text }))
  );
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const frame of frames) {
    out.set(frame, offset);
    offset += frame.length;
  }
  return out;
}

Deno.test("churn of 2000 connects and disconnects leaves no connection, user, room or nickname behind", async () => {
  const server = await startServer({
    NICK_GRACE_SECONDS: "0",
    MAX_CONNECTIONS_PER_IP: "1000",
  });
  try {
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
  } finally {
    await server.close();
  }
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
      await watcher.waitFor((e) =>
        e.type === "join" && e.nickname === "leaver"
      );
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
      const raw = await RawSocket.join(server, { cookie, answerPings: false });
      try {
        return await raw.waitForClose(5000);
      } finally {
        raw.abort();
      }
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
      const raw = await RawSocket.open(server, { cookie });
      const pusher = await RawSocket.join(server, {
        cookie: await loginOk(server, "pusher"),
      });
      try {
        await watcher.waitFor((e) =>
          e.type === "join" && e.nickname === "leaver"
        );
        await flood(pusher, () => presence(watcher, "leave", "leaver") > 0, {
          max: 4000,
          size: 7000,
        });
        return await raw.waitForClose(10_000);
      } finally {
        raw.abort();
        pusher.abort();
      }
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
      const res = await fetch(`${server.url}/logout`, {
        method: "POST",
        headers: { cookie, origin: server.origin },
        redirect: "manual",
      });
      await res.body?.cancel();
      assert.equal(res.status, 303);
      return (await client.closed).code;
    },
    ended: 4401,
  },
];

for (const path of leavePaths) {
  Deno.test(`leave by ${path.name} is announced exactly once`, async () => {
    const server = await startServer({ ...HIGH_RATE, ...path.env });
    try {
      const watcher = await TestClient.join(
        server,
        await loginOk(server, "watcher"),
      );
      const cookie = await loginOk(server, "leaver");
      assert.deepEqual(await path.leave(server, cookie, watcher), path.ended);
      await watcher.waitFor((e) =>
        e.type === "leave" && e.nickname === "leaver"
      );
      await barrier(watcher);
      assert.equal(presence(watcher, "join", "leaver"), 1);
      assert.equal(presence(watcher, "leave", "leaver"), 1);
      await eventually(() => server.chat.hub.stats().connections === 1);
      assert.deepEqual(server.chat.hub.users("lobby"), ["watcher"]);
      await watcher.close();
    } finally {
      await server.close();
    }
  });
}

Deno.test("an unexpected error in one socket closes only it with 1011 and logs the nickname", async () => {
  // Nothing a client sends can make a handler throw, so the fault comes from
  // the KV handle createApp accepts: reading the nickname lease for "boom"
  // fails once armed, which breaks that socket's join in its open handler.
  const kv = await Deno.openKv(":memory:");
  let armed = false;
  const faulty = new Proxy(kv, {
    get(target, prop) {
      if (prop === "get") {
        return (
          key: Deno.KvKey,
          options?: { consistency?: Deno.KvConsistencyLevel },
        ) => {
          if (armed && key.includes("boom")) {
            return Promise.reject(new Error("injected KV failure"));
          }
          return target.get(key, options);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const server = await startServer({}, { kv: faulty });
  try {
    const watcher = await TestClient.join(
      server,
      await loginOk(server, "watcher"),
    );
    const cookie = await loginOk(server, "boom");
    const other = await TestClient.join(server, await loginOk(server, "other"));
    armed = true;
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
    assert.equal(presence(watcher, "join", "boom"), 0);
    assert.equal(presence(watcher, "leave", "boom"), 0);
    await eventually(() => server.chat.hub.stats().connections === 2);
    await watcher.close();
    await other.close();
  } finally {
    await server.close();
    kv.close();
  }
});

Deno.test("a room whose KV fails closes its joiners with 1011 and starts again once KV answers", async () => {
  const kv = await Deno.openKv(":memory:");
  let failing = true;
  // The room's head read fails while `failing`: KV down as the room starts.
  const flaky = new Proxy(kv, {
    get(target, prop) {
      if (prop === "get") {
        return (
          key: Deno.KvKey,
          options?: { consistency?: Deno.KvConsistencyLevel },
        ) =>
          failing && key[0] === "seq" && key[1] === "flaky"
            ? Promise.reject(new Error("injected KV outage"))
            : target.get(key, options);
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const server = await startServer({}, { kv: flaky });
  try {
    const cookie = await loginOk(server, "patient");
    const first = await TestClient.open(server, cookie, { room: "flaky" });
    assert.equal((await first.closed).code, 1011);
    assert.ok(server.logs.some((l) => l.includes("injected KV outage")));
    failing = false;
    const second = await TestClient.join(server, cookie, { room: "flaky" });
    assert.deepEqual(second.welcome.users, ["patient"]);
    second.send({ type: "message", text: "back" });
    assert.equal((await second.waitForText("back")).id, 1);
    await second.close();
  } finally {
    await server.close();
    kv.close();
  }
});
