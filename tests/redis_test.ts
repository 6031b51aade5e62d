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
  freePort,
  login,
  loginOk,
  range,
  settle,
  spawnServer,
  TestClient,
} from "./helpers/harness.ts";

// deno-lint-ignore no-explicit-any
type Event = any;

const TTL_SECONDS = 3;

function redisInstalled(): boolean {
  try {
    return new Deno.Command("redis-server", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

const hasRedis = redisInstalled();
if (!hasRedis) {
  console.warn(
    "redis_test.ts: redis-server is not installed, so the Redis tests are skipped (.ci/run installs it)",
  );
}

/** A redis-server this test started. */
interface RedisServer {
  port: number;
  url: string;
  /** Stops it at once (SIGKILL: an outage, not a shutdown) and waits for the exit. */
  kill(): Promise<void>;
}

/** Whether a Redis answers PING on `port`; bounded so a stuck peer cannot hang a test. */
async function ping(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), 500);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buffer = new Uint8Array(64);
    const n = await conn.read(buffer);
    return n !== null &&
      new TextDecoder().decode(buffer.subarray(0, n)).startsWith("+PONG");
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // Closed by the timer.
    }
  }
}

/** Starts redis-server on loopback without persistence and waits for PONG. */
async function startRedis(port = freePort()): Promise<RedisServer> {
  const process = new Deno.Command("redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = process.status.then((s) => {
    exited = true;
    return s;
  });
  const kill = async () => {
    if (!exited) {
      try {
        process.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await status;
  };
  const deadline = Date.now() + 5000;
  while (!(await ping(port))) {
    if (exited || Date.now() > deadline) {
      await kill();
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { port, url: `redis://127.0.0.1:${port}`, kill };
}

/** Redis plus instances A and B over one KV file; close() kills everything started. */
interface Cluster {
  redis: RedisServer;
  a: ChildServer;
  b: ChildServer;
  clients: TestClient[];
  /** Logs in on `server` and joins the lobby, tracked for cleanup. */
  join(server: ChildServer, nickname: string): Promise<TestClient>;
  close(): Promise<void>;
}

async function cluster(): Promise<Cluster> {
  const dir = await Deno.makeTempDir({ prefix: "chat-redis-" });
  const stoppers: (() => Promise<unknown>)[] = [
    () => Deno.remove(dir, { recursive: true }),
  ];
  const close = async () => {
    // Last started, first stopped: clients, then servers, Redis, the folder.
    for (const stop of stoppers.splice(0).reverse()) {
      try {
        await stop();
      } catch {
        // Keep stopping the rest.
      }
    }
  };
  try {
    let redis = await startRedis();
    // A restarted Redis replaces the first; close() must kill whichever runs.
    stoppers.push(() => redis.kill());
    const env = {
      REDIS_URL: redis.url,
      KV_PATH: `${dir}/chat.db`,
      PRESENCE_TTL_SECONDS: String(TTL_SECONDS),
      RATE_BURST: "100000",
      RATE_PER_SECOND: "100000",
      HISTORY_SIZE: "5000",
    };
    const a = await spawnServer({ ...env, INSTANCE_ID: "a" });
    stoppers.push(() => a.stop("SIGKILL"));
    const b = await spawnServer({ ...env, INSTANCE_ID: "b" });
    stoppers.push(() => b.stop("SIGKILL"));
    const clients: TestClient[] = [];
    stoppers.push(() => Promise.all(clients.map((c) => c.close())));
    return {
      get redis() {
        return redis;
      },
      set redis(next: RedisServer) {
        redis = next;
      },
      a,
      b,
      clients,
      async join(server, nickname) {
        const client = await TestClient.join(
          server,
          await loginOk(server, nickname),
        );
        clients.push(client);
        return client;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Joins `nickname` and waits until every earlier client has seen it arrive. */
async function joinSeen(
  c: Cluster,
  server: ChildServer,
  nickname: string,
  others: TestClient[],
): Promise<TestClient> {
  const client = await c.join(server, nickname);
  for (const other of others) {
    await other.waitFor((e) => e.type === "join" && e.nickname === nickname);
  }
  return client;
}

Deno.test({
  name:
    "redis bus: users on two processes see each other's messages once, in order, and agree on who is there",
  ignore: !hasRedis,
  async fn() {
    const c = await cluster();
    try {
      // Alternate instances, and let each join land everywhere before the next.
      const ann = await c.join(c.a, "ann");
      const bob = await joinSeen(c, c.b, "bob", [ann]);
      const cara = await joinSeen(c, c.a, "cara", [ann, bob]);
      const dan = await joinSeen(c, c.b, "dan", [ann, bob, cara]);
      const all = [ann, bob, cara, dan];
      assert.deepEqual(ann.welcome.users, ["ann"]);
      assert.deepEqual(bob.welcome.users, ["ann", "bob"]);
      assert.deepEqual(cara.welcome.users, ["ann", "bob", "cara"]);
      assert.deepEqual(dan.welcome.users, ["ann", "bob", "cara", "dan"]);

      const n = 40;
      for (let i = 1; i <= n; i++) {
        for (const client of all) {
          client.send({
            type: "message",
            text: `${client.welcome.nickname}${i}`,
          });
        }
      }
      await settle(all, (e) => e.type === "message" && e.id >= all.length * n);
      for (const client of all) {
        const got = client.ofType("message");
        // One sequence for the room, whichever process stored the message.
        assert.deepEqual(got.map((m: Event) => m.id), range(1, all.length * n));
        for (const sender of all) {
          const name = sender.welcome.nickname;
          assert.deepEqual(
            got.filter((m: Event) => m.nickname === name).map((m: Event) =>
              m.text
            ),
            range(1, n).map((i) => `${name}${i}`),
          );
        }
      }

      await dan.close();
      for (const client of [ann, bob, cara]) {
        await client.waitFor((e) => e.type === "leave" && e.nickname === "dan");
      }
      // Outlast a presence TTL so a lease sweep that revived dan would show.
      await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 + 500));
      ann.send({ type: "message", text: "barrier-a" });
      bob.send({ type: "message", text: "barrier-b" });
      const barrier = all.length * n + 2;
      await settle(
        [ann, bob, cara],
        (e) => e.type === "message" && e.id >= barrier,
      );
      for (const client of [ann, bob, cara]) {
        assert.deepEqual(
          client.ofType("message").slice(-2).map((m: Event) => m.text).sort(),
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
        assert.deepEqual(rooms, [{ name: "lobby", users: 4 }]);
      }
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "redis bus: a nickname held on one process is refused on the other",
  ignore: !hasRedis,
  async fn() {
    const c = await cluster();
    try {
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
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name:
    "redis bus: users of a SIGKILLed process leave the other within the presence TTL, once each",
  ignore: !hasRedis,
  async fn() {
    const c = await cluster();
    try {
      const ann = await c.join(c.a, "ann");
      const bob = await joinSeen(c, c.b, "bob", [ann]);
      const cara = await joinSeen(c, c.b, "cara", [ann, bob]);
      const dan = await joinSeen(c, c.a, "dan", [ann, bob, cara]);
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
          await client.waitFor(
            (e) => e.type === "leave" && e.nickname === name,
            { timeoutMs: 15_000 },
          );
        }
      }
      const took = Date.now() - killedAt;
      console.log(`B's users left A ${took} ms after the SIGKILL`);
      // A later sweep must not announce them again.
      await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 / 3 * 2));
      ann.send({ type: "message", text: "barrier" });
      await settle([ann, dan], (e) => e.type === "message");
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
    } finally {
      await c.close();
    }
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
  seen(): Event[] {
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
    const socket = await TestClient.join(this.server, this.cookie, { since });
    c.clients.push(socket);
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
    "redis bus: after Redis is killed and restarted every client has every stored message once, in order",
  ignore: !hasRedis,
  async fn() {
    const c = await cluster();
    try {
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
      for (const reader of readers) {
        for (const other of readers.slice(readers.indexOf(reader) + 1)) {
          await reader.current.waitFor((e) =>
            e.type === "join" && e.nickname === other.nickname
          );
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
      const auditor = await TestClient.join(c.a, await loginOk(c.a, "audit"), {
        since: 0,
      });
      c.clients.push(auditor);
      const stored = auditor.welcome.history as Event[];
      const head = auditor.welcome.seq as number;
      const started = Date.now();
      await Promise.allSettled(
        readers.map((reader) =>
          reader.current.waitFor((e) => e.type === "message" && e.id >= head, {
            timeoutMs: 10_000,
          })
        ),
      );
      console.log(
        `every reader reached message ${head} ${
          Date.now() - started
        } ms after the senders stopped`,
      );
      for (const reader of readers) {
        assert.deepEqual(
          reader.sockets.flatMap((s) => s.ofType("error")),
          [],
          `${reader.nickname} was sent error frames`,
        );
      }
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
          seen.map((m: Event) => m.id),
          range(1, head),
          `${reader.nickname} saw each stored message once, in order`,
        );
        assert.deepEqual(
          seen.map((m: Event) => m.text),
          stored.map((m) => m.text),
        );
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
    } finally {
      await c.close();
    }
  },
});
