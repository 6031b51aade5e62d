/**
 * `WORKERS=2`: main.ts runs `deno serve --parallel` as a child process, and
 * its workers share one KV file and reach each other over BroadcastChannel.
 * The kernel picks a worker per TCP connection, so every check opens many.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Answer,
  type ChildServer,
  count,
  exchange,
  HIGH_RATE,
  range,
  seenJoin,
  settle,
  spawnServer,
  TestClient,
  texts,
} from "./helpers/harness.ts";

const TTL_SECONDS = 3;

/** One worker's /healthz answer. */
interface Health {
  instance: string;
  connections: number;
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
  // Bounded by time rather than tries: on a loaded machine the second worker
  // can take seconds to start listening.
  const deadline = Date.now() + 10_000;
  while (seen.size < want && Date.now() < deadline) {
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
  /** Logs in over a new connection and joins, tracked for cleanup. */
  join(nickname: string): Promise<TestClient>;
  /** Closes the clients, stops the process tree and removes the folder. */
  [Symbol.asyncDispose](): Promise<void>;
}

async function startWorkers(
  env: Record<string, string> = {},
): Promise<Workers> {
  // Last started, first stopped: clients, the process tree, the folder.
  await using stack = new AsyncDisposableStack();
  // Outside ./data on purpose: the workers must be granted the KV's folder.
  const dir = await Deno.makeTempDir({ prefix: "chat-workers-" });
  stack.defer(() => Deno.remove(dir, { recursive: true }));
  const server = await spawnServer({
    ...HIGH_RATE,
    WORKERS: "2",
    KV_PATH: `${dir}/chat.db`,
    PRESENCE_TTL_SECONDS: String(TTL_SECONDS),
    ...env,
  });
  let tree: number[] = [];
  stack.defer(async () => {
    const below = await descendants(server.process.pid);
    tree = [...new Set([...tree, ...below.map((p) => p.pid)])];
    // A tree that ignores SIGTERM must not outlive the test.
    const timer = setTimeout(() => {
      try {
        server.process.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      killLeft(tree);
    }, 5000);
    await server.stop("SIGTERM");
    clearTimeout(timer);
    await killLeft(tree);
  });
  tree = (await descendants(server.process.pid)).map((p) => p.pid);
  const clients: TestClient[] = [];
  stack.defer(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });
  // /healthz answered once one worker was up; wait for the other too.
  const seen = await workers(server);
  assert.equal(seen.size, 2, "both workers answer /healthz");
  const owned = stack.move();
  return {
    server,
    async join(nickname) {
      const client = await TestClient.join(
        server,
        await loginOkFresh(server, nickname),
      );
      clients.push(client);
      return client;
    },
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
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
    await seenJoin(users, nickname);
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

Deno.test("WORKERS=2 delivers every message once, in order, to users on both workers", async () => {
  // A short history: what one worker trims must not cost the other's
  // members a message still on its way over BroadcastChannel.
  await using w = await startWorkers({
    HISTORY_SIZE: "20",
    HISTORY_ON_JOIN: "20",
  });
  const { users, spread } = await joinAcrossWorkers(w, 8);
  console.log(
    `users per worker: ${
      [...spread.values()].map((h) => `${h.instance}=${h.connections}`)
        .join(", ")
    }`,
  );
  await exchange(users, 15, (name, i) => `${name}-${i}`);
});

Deno.test("WORKERS=2 keeps welcome users and join and leave notices exact across workers", async () => {
  await using w = await startWorkers();
  const { users } = await joinAcrossWorkers(w, 8);
  const names = users.map((u) => u.nickname);
  const leaving = users.filter((_, i) => i % 2 === 1);
  const staying = users.filter((_, i) => i % 2 === 0);
  for (const user of leaving) await user.close();
  for (const user of staying) {
    for (const gone of leaving) {
      await user.waitForNotice("leave", gone.nickname);
    }
  }
  // Outlast a presence TTL so a lease sweep that revived someone would show.
  await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 + 500));
  for (const user of staying) {
    user.send({ type: "message", text: `barrier-${user.nickname}` });
  }
  await settle(
    staying,
    (e) => e.type === "message" && e.id >= staying.length,
    `message ${staying.length}`,
  );
  for (const user of staying) {
    assert.deepEqual(
      texts(user.events).sort(),
      staying.map((u) => `barrier-${u.nickname}`).sort(),
    );
  }
  for (const user of staying) {
    const me = names.indexOf(user.nickname);
    for (const [j, name] of names.entries()) {
      // Who was there at its welcome is listed, not announced.
      assert.equal(count(user, "join", name), j > me ? 1 : 0, `join ${name}`);
      const left = leaving.some((u) => u.nickname === name);
      assert.equal(count(user, "leave", name), left ? 1 : 0, `leave ${name}`);
    }
  }
  const late = await w.join("zz-late");
  assert.deepEqual(late.welcome.users, [
    ...staying.map((u) => u.nickname),
    "zz-late",
  ]);
  const rooms = JSON.parse((await fresh(w.server.origin, "/api/rooms")).body);
  assert.deepEqual(
    rooms.map(({ name, users }: { name: string; users: number }) => ({
      name,
      users,
    })),
    [{ name: "lobby", users: staying.length + 1 }],
  );
});

Deno.test("WORKERS=2 holds a nickname for one session across workers", async () => {
  await using w = await startWorkers();
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
});

Deno.test("WORKERS=2 parent on SIGTERM closes every socket with 1012 and ends the process tree within 5 s", async () => {
  await using w = await startWorkers();
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
});
