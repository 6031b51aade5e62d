/**
 * Two server processes sharing one KV file and a real Redis: the
 * multi-machine setup, on one machine. Skipped only when redis-server is
 * not installed (`.ci/run` installs it).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type ChildServer,
  count,
  exchange,
  HIGH_RATE,
  joinAs,
  login,
  loginOk,
  range,
  seenJoin,
  type ServerEvent,
  settle,
  spawnServer,
  TestClient,
} from "./helpers/harness.ts";
import {
  hasRedis,
  ping,
  type RedisServer,
  startRedis,
} from "./helpers/redis.ts";

const TTL_SECONDS = 3;

if (!hasRedis) {
  console.warn(
    "redis_test.ts: redis-server is not installed, so the Redis tests are skipped (.ci/run installs it)",
  );
}

/** Redis plus instances A and B over one KV file; disposing kills everything started. */
interface Cluster {
  /** The running Redis; a test may kill it and put a restarted one here. */
  redis: RedisServer;
  a: ChildServer;
  b: ChildServer;
  /** Tracks a client for cleanup and returns it. */
  track(client: TestClient): TestClient;
  /** Logs in on `server` and joins the lobby, tracked for cleanup. */
  join(server: ChildServer, nickname: string): Promise<TestClient>;
  /**
   * Joins the users one by one, each on its server, and lets every join
   * reach everyone already there before the next.
   */
  joinInTurn(users: [ChildServer, string][]): Promise<TestClient[]>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function cluster(): Promise<Cluster> {
  // Last started, first stopped: clients, then servers, Redis, the folder.
  await using stack = new AsyncDisposableStack();
  const dir = await Deno.makeTempDir({ prefix: "chat-redis-" });
  stack.defer(() => Deno.remove(dir, { recursive: true }));
  let redis = await startRedis();
  // A restarted Redis replaces the first; disposal must kill whichever runs.
  stack.defer(() => redis.kill());
  const env = {
    ...HIGH_RATE,
    REDIS_URL: redis.url,
    KV_PATH: `${dir}/chat.db`,
    PRESENCE_TTL_SECONDS: String(TTL_SECONDS),
    HISTORY_SIZE: "5000",
  };
  const a = await spawnServer({ ...env, INSTANCE_ID: "a" });
  stack.defer(async () => {
    await a.stop("SIGKILL");
  });
  const b = await spawnServer({ ...env, INSTANCE_ID: "b" });
  stack.defer(async () => {
    await b.stop("SIGKILL");
  });
  const clients: TestClient[] = [];
  stack.defer(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });
  const track = (client: TestClient) => {
    clients.push(client);
    return client;
  };
  const join = async (server: ChildServer, nickname: string) =>
    track(await joinAs(server, nickname));
  const owned = stack.move();
  return {
    get redis() {
      return redis;
    },
    set redis(next: RedisServer) {
      redis = next;
    },
    a,
    b,
    track,
    join,
    async joinInTurn(users) {
      const joined: TestClient[] = [];
      for (const [server, nickname] of users) {
        const client = await join(server, nickname);
        await seenJoin(joined, nickname);
        joined.push(client);
      }
      return joined;
    },
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

Deno.test({
  name:
    "redis bus delivers every message once, in order, to users on two processes, who agree on who is there",
  ignore: !hasRedis,
  async fn() {
    await using c = await cluster();
    // Alternate instances.
    const all = await c.joinInTurn([
      [c.a, "ann"],
      [c.b, "bob"],
      [c.a, "cara"],
      [c.b, "dan"],
    ]);
    const [ann, bob, cara, dan] = all;
    assert.deepEqual(ann.welcome.users, ["ann"]);
    assert.deepEqual(bob.welcome.users, ["ann", "bob"]);
    assert.deepEqual(cara.welcome.users, ["ann", "bob", "cara"]);
    assert.deepEqual(dan.welcome.users, ["ann", "bob", "cara", "dan"]);

    const n = 40;
    await exchange(all, n, (name, i) => `${name}${i}`);

    await dan.close();
    for (const client of [ann, bob, cara]) {
      await client.waitForNotice("leave", "dan");
    }
    // Outlast a presence TTL so a lease sweep that revived dan would show.
    await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 + 500));
    ann.send({ type: "message", text: "barrier-a" });
    bob.send({ type: "message", text: "barrier-b" });
    const barrier = all.length * n + 2;
    await settle(
      [ann, bob, cara],
      (e) => e.type === "message" && e.id >= barrier,
      `message ${barrier}`,
    );
    for (const client of [ann, bob, cara]) {
      assert.deepEqual(
        client.ofType("message").slice(-2).map((m) => m.text).sort(),
        ["barrier-a", "barrier-b"],
      );
    }
    const names = ["ann", "bob", "cara", "dan"];
    for (const [i, client] of [ann, bob, cara].entries()) {
      for (const [j, name] of names.entries()) {
        // Who was there at its welcome is listed, not announced.
        assert.equal(count(client, "join", name), j > i ? 1 : 0, `${name}`);
        assert.equal(count(client, "leave", name), name === "dan" ? 1 : 0);
      }
    }
    const fresh = await c.join(c.b, "eve");
    assert.deepEqual(fresh.welcome.users, ["ann", "bob", "cara", "eve"]);
    for (const server of [c.a, c.b]) {
      const rooms = await (await fetch(`${server.origin}/api/rooms`)).json();
      assert.deepEqual(
        rooms.map(({ name, users }: { name: string; users: number }) => ({
          name,
          users,
        })),
        [{ name: "lobby", users: 4 }],
      );
    }
  },
});

Deno.test({
  name: "redis bus refuses on one process a nickname held on the other",
  ignore: !hasRedis,
  async fn() {
    await using c = await cluster();
    await loginOk(c.a, "Zed");
    const taken = await login(c.b, "zed");
    assert.equal(taken.status, 409);
    assert.equal(taken.setCookie, null);
    // Racing logins for one new name on both processes: exactly one wins.
    const results = await Promise.all(
      range(1, 10).map((i) => login(i % 2 ? c.a : c.b, "solo")),
    );
    assert.deepEqual(
      results.map((r) => r.status).sort(),
      [303, ...Array(9).fill(409)],
    );
  },
});

Deno.test({
  name:
    "redis bus announces each user of a SIGKILLed process leaving, once, within the presence TTL",
  ignore: !hasRedis,
  async fn() {
    await using c = await cluster();
    // Bob and cara on B, the process that will die.
    const [ann, bob, cara, dan] = await c.joinInTurn([
      [c.a, "ann"],
      [c.b, "bob"],
      [c.b, "cara"],
      [c.a, "dan"],
    ]);
    // Let B renew its leases at least once, as a long-lived process would have.
    await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 / 2));
    const killedAt = Date.now();
    const status = await c.b.stop("SIGKILL");
    assert.equal(status.signal, "SIGKILL");
    await bob.closed;
    await cara.closed;
    // B's last lease runs out at most a TTL after the kill, and A sweeps
    // every TTL/3; the rest is slack for a loaded machine.
    const bound = TTL_SECONDS * 1000 + TTL_SECONDS * 1000 / 3 + 500;
    for (const client of [ann, dan]) {
      for (const name of ["bob", "cara"]) {
        await client.waitForNotice("leave", name, 15_000);
      }
    }
    const took = Date.now() - killedAt;
    console.log(`B's users left A ${took} ms after the SIGKILL`);
    // A later sweep must not announce them again.
    await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 / 3 * 2));
    ann.send({ type: "message", text: "barrier" });
    await settle([ann, dan], (e) => e.type === "message", "the barrier");
    assert.equal(dan.ofType("message")[0]?.text, "barrier");
    for (const client of [ann, dan]) {
      for (const name of ["bob", "cara"]) {
        assert.equal(count(client, "leave", name), 1);
        assert.equal(count(client, "join", name), client === ann ? 1 : 0);
      }
    }
    const eve = await c.join(c.a, "eve");
    assert.deepEqual(eve.welcome.users, ["ann", "dan", "eve"]);
    assert.ok(
      took <= bound,
      `B's users took ${took} ms to leave, more than the TTL plus a sweep (${bound} ms)`,
    );
  },
});

/** A user who keeps reading across reconnections, resuming with `since`. */
class Reader {
  readonly nickname: string;
  readonly server: ChildServer;
  readonly cookie: string;
  readonly sockets: TestClient[] = [];
  drops: number[] = [];

  constructor(server: ChildServer, nickname: string, cookie: string) {
    this.server = server;
    this.nickname = nickname;
    this.cookie = cookie;
  }

  get current(): TestClient {
    return this.sockets[this.sockets.length - 1];
  }

  /** Every message this user was shown: each socket's resumed history, then its live events. */
  seen(): ServerEvent[] {
    return this.sockets.flatMap((s) => [
      ...(s.welcome?.history ?? []),
      ...s.ofType("message"),
    ]);
  }

  lastId(): number {
    const seen = this.seen();
    return seen.length > 0 ? seen[seen.length - 1].id : 0;
  }

  async open(c: Cluster): Promise<void> {
    const since = this.sockets.length > 0 ? this.lastId() : undefined;
    const socket = c.track(
      await TestClient.join(this.server, this.cookie, { since }),
    );
    this.sockets.push(socket);
    socket.closed.then(({ code }) => {
      if (socket === this.current) this.drops.push(code);
    });
  }

  /** Sends on the live socket, reconnecting first if it dropped. */
  async send(c: Cluster, text: string): Promise<void> {
    if (this.current.socket.readyState !== WebSocket.OPEN) await this.open(c);
    this.current.send({ type: "message", text, cid: text });
  }
}

Deno.test({
  name:
    "redis bus outage leaves every client with every stored message once, in order, once Redis is back",
  ignore: !hasRedis,
  async fn() {
    await using c = await cluster();
    const readers: Reader[] = [];
    for (
      const [server, nickname] of [
        [c.a, "ann"],
        [c.b, "bob"],
        [c.a, "cara"],
        [c.b, "dan"],
      ] as const
    ) {
      const reader = new Reader(
        server,
        nickname,
        await loginOk(server, nickname),
      );
      await reader.open(c);
      readers.push(reader);
    }
    for (const [i, reader] of readers.entries()) {
      for (const other of readers.slice(i + 1)) {
        await reader.current.waitForNotice("join", other.nickname);
      }
    }

    const sent: string[] = [];
    let sending = true;
    const senders = readers.map(async (reader) => {
      for (let i = 1; sending; i++) {
        const text = `${reader.nickname}-${i}`;
        await reader.send(c, text);
        sent.push(text);
        await new Promise((r) => setTimeout(r, 40));
      }
    });
    try {
      await new Promise((r) => setTimeout(r, 500));
      await c.redis.kill();
      assert.equal(await ping(c.redis.port), false);
      // Down for longer than a presence TTL, with everyone still talking.
      await new Promise((r) => setTimeout(r, 3500));
      c.redis = await startRedis(c.redis.port);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      sending = false;
      await Promise.all(senders);
    }

    // The store is the truth: a fresh reader resuming from 0 gets all of it.
    const auditor = c.track(
      await TestClient.join(c.a, await loginOk(c.a, "audit"), { since: 0 }),
    );
    const stored = auditor.welcome.history as ServerEvent[];
    const head = auditor.welcome.seq as number;
    const started = Date.now();
    for (const reader of readers) {
      assert.deepEqual(
        reader.sockets.slice(0, -1).flatMap((s) => s.ofType("error")),
        [],
        `${reader.nickname} was sent error frames`,
      );
    }
    await settle(
      readers.map((reader) => reader.current),
      (e) => e.type === "message" && e.id >= head,
      `stored message ${head}`,
    );
    console.log(
      `every reader reached message ${head} ${
        Date.now() - started
      } ms after the senders stopped`,
    );
    assert.equal(auditor.welcome.recovered, true);
    assert.deepEqual(stored.map((m) => m.id), range(1, head));
    assert.deepEqual(
      stored.map((m) => m.text).sort(),
      [...sent].sort(),
      "every message sent was stored once",
    );
    for (const reader of readers) {
      const seen = reader.seen();
      assert.deepEqual(
        seen.map((m) => m.id),
        range(1, head),
        `${reader.nickname} saw each stored message once, in order`,
      );
      assert.deepEqual(seen.map((m) => m.text), stored.map((m) => m.text));
    }

    // The bus itself is back: B's messages reach A promptly, not only by
    // the once-a-second sweep that fills gaps from KV.
    const [ann, bob] = readers;
    const deadline = Date.now() + 10_000;
    let prompt = 0;
    for (let i = 1; prompt < 3; i++) {
      assert.ok(Date.now() < deadline, "the Redis bus did not come back");
      const sentAt = Date.now();
      bob.current.send({ type: "message", text: `probe-${i}` });
      await ann.current.waitForText(`probe-${i}`, 5000);
      prompt = Date.now() - sentAt < 150 ? prompt + 1 : 0;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(
      readers.map((r) => r.drops),
      readers.map(() => []),
      "no socket dropped: KV does not depend on Redis",
    );
  },
});
