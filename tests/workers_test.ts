/**
 * `WORKERS=2`: main.ts runs `deno serve --parallel` as a child process, and
 * its workers share one KV file and reach each other over BroadcastChannel.
 * The kernel picks a worker per TCP connection, so every check opens many.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type ChildServer,
  count,
  range,
  settle,
  spawnServer,
  TestClient,
} from "./helpers/harness.ts";

// deno-lint-ignore no-explicit-any
type Event = any;

const TTL_SECONDS = 3;

/** One worker's /healthz answer. */
interface Health {
  instance: string;
  connections: number;
}

/** A response read whole. */
interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** Sends a request on a connection of its own, so any worker may take it. */
async function fresh(
  origin: string,
  path: string,
  init: RequestInit = {},
): Promise<Answer> {
  const client = Deno.createHttpClient({});
  try {
    const res = await fetch(`${origin}${path}`, {
      ...init,
      client,
      redirect: "manual",
    });
    return { status: res.status, headers: res.headers, body: await res.text() };
  } finally {
    client.close();
  }
}

/** Asks /healthz over new connections until `want` workers have answered. */
async function workers(
  server: { origin: string },
  want = 2,
): Promise<Map<string, Health>> {
  const seen = new Map<string, Health>();
  for (let i = 0; i < 200 && seen.size < want; i++) {
    const health = JSON.parse((await fresh(server.origin, "/healthz")).body);
    seen.set(health.instance, health);
    if (seen.size < want) await new Promise((r) => setTimeout(r, 10));
  }
  return seen;
}

/** Logs in over a new connection, so logins race on different workers. */
async function loginFresh(
  server: { origin: string },
  nickname: string,
): Promise<{ status: number; cookie: string }> {
  const res = await fresh(server.origin, "/login", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: server.origin,
    },
    body: new URLSearchParams({ nickname }),
  });
  const setCookie = res.headers.get("set-cookie");
  return { status: res.status, cookie: setCookie?.split(";")[0] ?? "" };
}

async function loginOkFresh(
  server: { origin: string },
  nickname: string,
): Promise<string> {
  const { status, cookie } = await loginFresh(server, nickname);
  assert.equal(status, 303, `login of ${nickname}`);
  return cookie;
}

/** One row of `ps`. */
interface Process {
  pid: number;
  ppid: number;
  args: string;
}

/** Live processes; through `ps`, since Deno grants /proc only to --allow-all. */
async function processes(): Promise<Process[]> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-eo", "pid=,ppid=,stat=,args="],
    stdout: "piped",
    stderr: "null",
  }).output();
  const out: Process[] = [];
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    const match = line.trim().match(/^(\d+)\s+(\d+)\s+(\S+)\s*(.*)$/);
    // A zombie has exited; only its parent's wait is missing.
    if (!match || match[3].startsWith("Z")) continue;
    out.push({ pid: Number(match[1]), ppid: Number(match[2]), args: match[4] });
  }
  return out;
}

/** Every live process below `pid`. */
async function descendants(pid: number): Promise<Process[]> {
  const all = await processes();
  const out: Process[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const p of all) {
      if (p.ppid === parent) {
        out.push(p);
        queue.push(p.pid);
      }
    }
  }
  return out;
}

/** Those of `pids` still running. */
async function alive(pids: number[]): Promise<Process[]> {
  return (await processes()).filter((p) => pids.includes(p.pid));
}

/** Kills what is left of a tree this test started; the pids were read while it ran. */
async function killLeft(pids: number[]): Promise<void> {
  for (const p of await alive(pids)) {
    try {
      Deno.kill(p.pid, "SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }
}

/** A `WORKERS=2` server with its KV in a temp folder of its own. */
interface Workers {
  server: ChildServer;
  clients: TestClient[];
  join(nickname: string): Promise<TestClient>;
  close(): Promise<void>;
}

async function startWorkers(
  env: Record<string, string> = {},
): Promise<Workers> {
  // Outside ./data on purpose: the workers must be granted the KV's folder.
  const dir = await Deno.makeTempDir({ prefix: "chat-workers-" });
  const clients: TestClient[] = [];
  let server: ChildServer | undefined;
  let tree: number[] = [];
  const close = async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (server) {
      const running = server;
      const below = await descendants(running.process.pid);
      tree = [...new Set([...tree, ...below.map((p) => p.pid)])];
      // A tree that ignores SIGTERM must not outlive the test.
      const timer = setTimeout(() => {
        try {
          running.process.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        killLeft(tree);
      }, 5000);
      await running.stop("SIGTERM");
      clearTimeout(timer);
      await killLeft(tree);
    }
    await Deno.remove(dir, { recursive: true });
  };
  try {
    server = await spawnServer({
      WORKERS: "2",
      KV_PATH: `${dir}/chat.db`,
      PRESENCE_TTL_SECONDS: String(TTL_SECONDS),
      RATE_BURST: "100000",
      RATE_PER_SECOND: "100000",
      ...env,
    });
    tree = (await descendants(server.process.pid)).map((p) => p.pid);
    // /healthz answered once one worker was up; wait for the other too.
    const seen = await workers(server);
    assert.equal(seen.size, 2, "both workers answer /healthz");
    const started = server;
    return {
      server,
      clients,
      async join(nickname) {
        const client = await TestClient.join(
          started,
          await loginOkFresh(started, nickname),
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

/**
 * Joins users one by one, each once every earlier one has seen it arrive,
 * until at least `min` have joined and both workers hold some of them.
 */
async function joinAcrossWorkers(
  w: Workers,
  min: number,
): Promise<{ users: TestClient[]; spread: Map<string, Health> }> {
  const users: TestClient[] = [];
  for (let i = 1; i <= 24; i++) {
    const nickname = `user${String(i).padStart(2, "0")}`;
    const client = await w.join(nickname);
    for (const other of users) {
      await other.waitFor((e) => e.type === "join" && e.nickname === nickname);
    }
    users.push(client);
    assert.deepEqual(
      client.welcome.users,
      users.map((u) => u.welcome.nickname),
      `${nickname}'s welcome lists everyone on both workers`,
    );
    if (users.length < min) continue;
    const spread = await workers(w.server);
    const counts = [...spread.values()].map((h) => h.connections);
    if (counts.length === 2 && counts.every((n) => n > 0)) {
      assert.equal(counts[0] + counts[1], users.length);
      return { users, spread };
    }
  }
  throw new Error("24 connections all landed on one worker");
}

Deno.test("workers: users on two workers see each other's messages once, in order", async () => {
  // A short history: what one worker trims must not cost the other's
  // members a message still on its way over BroadcastChannel.
  const w = await startWorkers({ HISTORY_SIZE: "20", HISTORY_ON_JOIN: "20" });
  try {
    const { users, spread } = await joinAcrossWorkers(w, 8);
    console.log(
      `users per worker: ${
        [...spread.values()].map((h) => `${h.instance}=${h.connections}`)
          .join(", ")
      }`,
    );
    const n = 15;
    for (let i = 1; i <= n; i++) {
      for (const user of users) {
        user.send({ type: "message", text: `${user.welcome.nickname}-${i}` });
      }
    }
    const total = users.length * n;
    await settle(users, (e) => e.type === "message" && e.id >= total);
    for (const user of users) {
      const got = user.ofType("message");
      // One sequence for the room, whichever worker stored the message.
      assert.deepEqual(got.map((m: Event) => m.id), range(1, total));
      for (const sender of users) {
        const name = sender.welcome.nickname;
        assert.deepEqual(
          got.filter((m: Event) => m.nickname === name).map((m: Event) =>
            m.text
          ),
          range(1, n).map((i) => `${name}-${i}`),
        );
      }
    }
  } finally {
    await w.close();
  }
});

Deno.test("workers: welcome users and join and leave notices are exact across workers", async () => {
  const w = await startWorkers();
  try {
    const { users } = await joinAcrossWorkers(w, 8);
    const names = users.map((u) => u.welcome.nickname as string);
    const leaving = users.filter((_, i) => i % 2 === 1);
    const staying = users.filter((_, i) => i % 2 === 0);
    for (const user of leaving) await user.close();
    for (const user of staying) {
      for (const gone of leaving) {
        await user.waitFor((e) =>
          e.type === "leave" && e.nickname === gone.welcome.nickname
        );
      }
    }
    // Outlast a presence TTL so a lease sweep that revived someone would show.
    await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 + 500));
    for (const user of staying) {
      user.send({ type: "message", text: `barrier-${user.welcome.nickname}` });
    }
    await settle(
      staying,
      (e) => e.type === "message" && e.id >= staying.length,
    );
    for (const user of staying) {
      assert.deepEqual(
        user.ofType("message").map((m: Event) => m.text).sort(),
        staying.map((u) => `barrier-${u.welcome.nickname}`).sort(),
      );
    }
    for (const user of staying) {
      const me = names.indexOf(user.welcome.nickname);
      for (const [j, name] of names.entries()) {
        // Who was there at its welcome is listed, not announced.
        assert.equal(count(user, "join", name), j > me ? 1 : 0, `join ${name}`);
        const left = leaving.some((u) => u.welcome.nickname === name);
        assert.equal(count(user, "leave", name), left ? 1 : 0, `leave ${name}`);
      }
    }
    const late = await w.join("zz-late");
    assert.deepEqual(late.welcome.users, [
      ...staying.map((u) => u.welcome.nickname),
      "zz-late",
    ]);
    const rooms = JSON.parse((await fresh(w.server.origin, "/api/rooms")).body);
    assert.deepEqual(rooms, [{ name: "lobby", users: staying.length + 1 }]);
  } finally {
    await w.close();
  }
});

Deno.test("workers: a nickname is held by one session across workers", async () => {
  const w = await startWorkers();
  try {
    await loginOkFresh(w.server, "Zed");
    const retries = await Promise.all(
      range(1, 10).map(() => loginFresh(w.server, "zed")),
    );
    assert.deepEqual(retries.map((r) => r.status), Array(10).fill(409));
    // Racing logins for one new name, spread over both workers: one wins.
    const race = await Promise.all(
      range(1, 10).map(() => loginFresh(w.server, "solo")),
    );
    assert.deepEqual(
      race.map((r) => r.status).sort(),
      [303, ...Array(9).fill(409)],
    );
  } finally {
    await w.close();
  }
});

Deno.test("workers: SIGTERM to the parent closes every socket with 1012 and ends the process tree within 5 s", async () => {
  const w = await startWorkers();
  try {
    const children = await descendants(w.server.process.pid);
    assert.ok(
      children.some((p) => / serve /.test(p.args)),
      `a deno serve child runs: ${children.map((p) => p.args).join(" | ")}`,
    );
    const { users, spread } = await joinAcrossWorkers(w, 4);
    assert.equal(spread.size, 2);
    const started = Date.now();
    w.server.process.kill("SIGTERM");
    const closes = await Promise.all(
      users.map((u) => u.closed.then((c) => `${c.code} ${c.reason}`)),
    );
    // Once: a second SIGTERM would be a different test.
    const status = await w.server.process.status;
    const took = Date.now() - started;
    assert.equal(status.code, 0);
    assert.ok(took < 5000, `the parent exited after ${took} ms`);
    const pids = children.map((p) => p.pid);
    let left = await alive(pids);
    while (left.length > 0 && Date.now() - started < 5000) {
      await new Promise((r) => setTimeout(r, 50));
      left = await alive(pids);
    }
    assert.deepEqual(
      left.map((p) => p.args),
      [],
      "no worker process is left",
    );
    // 1012 tells the client to reconnect at once; 1001 would be a page leaving.
    assert.deepEqual(
      closes.map((c) => c.split(" ")[0]),
      users.map(() => "1012"),
      `close frames: ${closes.join(", ")}`,
    );
  } finally {
    await w.close();
  }
});
