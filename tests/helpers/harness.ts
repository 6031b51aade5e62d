/**
 * Shared test plumbing: the real app served on port 0, logins over HTTP,
 * WebSocket clients that record every event they receive, and the waits and
 * checks several test files make of them.
 *
 * Everything that opens something can be closed with `await using`, so a
 * failing assertion does not leave a socket, server or process behind.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Config, loadConfig } from "../../lib/app/config.ts";
import { type ChatApp, createApp } from "../../main.ts";
import { freePort } from "./ports.ts";

// Kept for files that imported it from here; it lives in ports.ts.
export { freePort } from "./ports.ts";

/**
 * A chat event as the server sends it (welcome, message, join, leave,
 * error, ...). Loose on purpose: tests read whatever field they check.
 */
// deno-lint-ignore no-explicit-any
export type ServerEvent = Record<string, any>;

/** Anything that records the events it was sent: a TestClient or a RawSocket. */
export interface EventLog {
  readonly events: ServerEvent[];
}

/** A secret long enough for config validation. */
export const SECRET = "test-secret-0123456789-abcdefghijklmnop";

/** Builds a config for tests: in-memory KV, loopback, quiet defaults. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    COOKIE_SECRET: SECRET,
    KV_PATH: ":memory:",
    HOST: "127.0.0.1",
    PORT: "0",
    ...LOOSE_ADDRESS_LIMITS,
    ...env,
  });
}

/**
 * Every test client comes from 127.0.0.1, so the per-address limits would
 * join them all into one person: tests that mean to reach them set their own.
 */
export const LOOSE_ADDRESS_LIMITS = {
  LOGIN_RATE_BURST: "100000",
  LOGIN_RATE_PER_MINUTE: "100000",
  ADDRESS_RATE_BURST: "1000000",
  ADDRESS_RATE_PER_SECOND: "1000000",
  ROOM_CREATE_BURST: "100000",
  ROOM_CREATE_PER_HOUR: "100000",
  SCROLLBACK_RATE_BURST: "100000",
  SCROLLBACK_RATE_PER_SECOND: "100000",
};

/** Rate limits no test reaches unless it means to. */
export const HIGH_RATE = { RATE_BURST: "100000", RATE_PER_SECOND: "100000" };

/** A running app on a free loopback port. */
export interface TestServer {
  url: string;
  origin: string;
  port: number;
  chat: ChatApp;
  logs: string[];
  /** Logs `nickname` in and joins; the client is closed with the server. */
  join(nickname: string, options?: JoinOptions): Promise<TestClient>;
  /** Joins with a session already logged in (another tab, a resume); closed with the server. */
  joinWith(cookie: string, options?: JoinOptions): Promise<TestClient>;
  /** Closes the app (chat.close()), then waits for the clients it joined to close. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Serves a fresh app on port 0; close() tears down server, sockets and KV. */
export async function startServer(
  env: Record<string, string> = {},
  options: { kv?: Deno.Kv; port?: number } = {},
): Promise<TestServer> {
  const logs: string[] = [];
  const chat = await createApp(testConfig(env), {
    kv: options.kv,
    log: (message, fields) => logs.push(`${message} ${JSON.stringify(fields)}`),
  });
  const server = chat.serve({ port: options.port ?? 0, hostname: "127.0.0.1" });
  const port = server.addr.port;
  const origin = `http://127.0.0.1:${port}`;
  const clients: TestClient[] = [];
  const tracked = (client: TestClient) => {
    clients.push(client);
    return client;
  };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    // chat.close() owns the shutdown order; the clients only see its end.
    await chat.close();
    await Promise.all(clients.map((c) => c.close()));
  };
  return {
    url: origin,
    origin,
    port,
    chat,
    logs,
    join: async (nickname, options) =>
      tracked(await joinAs({ origin }, nickname, options)),
    joinWith: async (cookie, options) =>
      tracked(await TestClient.join({ origin }, cookie, options)),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A temporary folder of its own, removed with everything in it on dispose. */
export interface TempDir {
  path: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Makes a fresh temporary folder, e.g. for a KV file that outlives a server. */
export async function tempDir(prefix = "chat-test-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Two app instances sharing one in-memory KV, as two machines would. */
export interface ServerPair {
  a: TestServer;
  b: TestServer;
  kv: Deno.Kv;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts instances "a" and "b" over one KV with the same `env`. */
export async function startPair(
  env: Record<string, string> = {},
): Promise<ServerPair> {
  const stack = new AsyncDisposableStack();
  try {
    const kv = stack.use(await Deno.openKv(":memory:"));
    const a = stack.use(
      await startServer({ ...env, INSTANCE_ID: "a" }, { kv }),
    );
    const b = stack.use(
      await startServer({ ...env, INSTANCE_ID: "b" }, { kv }),
    );
    const owned = stack.move();
    const close = () => owned.disposeAsync();
    return { a, b, kv, close, [Symbol.asyncDispose]: close };
  } finally {
    await stack.disposeAsync();
  }
}

/** The outcome of a login: the cookie pair to send back, and the response. */
export interface Login {
  cookie: string;
  status: number;
  setCookie: string | null;
  body: string;
}

/** Posts the login form like a browser of the same origin would. */
export async function login(
  server: { origin: string },
  nickname: string,
  options: { cookie?: string; origin?: string; password?: string } = {},
): Promise<Login> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    origin: options.origin ?? server.origin,
  };
  if (options.cookie) headers.cookie = options.cookie;
  const res = await fetch(`${server.origin}/login`, {
    method: "POST",
    headers,
    body: new URLSearchParams(
      options.password === undefined
        ? { nickname }
        : { nickname, password: options.password },
    ),
    redirect: "manual",
  });
  const body = await res.text();
  const setCookie = res.headers.get("set-cookie");
  return {
    cookie: setCookie ? setCookie.split(";")[0] : "",
    status: res.status,
    setCookie,
    body,
  };
}

/** Logs in and fails the test unless it worked. */
export async function loginOk(
  server: { origin: string },
  nickname: string,
): Promise<string> {
  const result = await login(server, nickname);
  if (result.status !== 303 || !result.cookie) {
    throw new Error(`Login of "${nickname}" failed: ${result.status}`);
  }
  return result.cookie;
}

/** Posts the logout form like the page does; returns the response, its body already consumed. */
export async function logout(
  server: { origin: string },
  cookie: string,
): Promise<Response> {
  const res = await fetch(`${server.origin}/logout`, {
    method: "POST",
    headers: {
      cookie,
      origin: server.origin,
      "content-type": "application/x-www-form-urlencoded",
    },
    redirect: "manual",
  });
  await res.body?.cancel();
  return res;
}

/** Which room to join and where to resume. */
export interface JoinOptions {
  room?: string;
  since?: number;
  /** Sent with `since`: the epoch it belongs to. */
  epoch?: string;
}

/** Logs `nickname` in with a new session and joins with it: a new user. */
export async function joinAs(
  server: { origin: string },
  nickname: string,
  options: JoinOptions = {},
): Promise<TestClient> {
  return await TestClient.join(
    server,
    await loginOk(server, nickname),
    options,
  );
}

/** A WebSocket client that records each event, unpacking batch frames. */
export class TestClient {
  readonly socket: WebSocket;
  /** The session cookie it connected with. */
  readonly cookie: string;
  readonly events: ServerEvent[] = [];
  readonly frames: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];
  #closeInfo: { code: number; reason: string } | undefined;

  private constructor(socket: WebSocket, cookie: string) {
    this.socket = socket;
    this.cookie = cookie;
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (e) => {
        this.#closeInfo = { code: e.code, reason: e.reason };
        resolve(this.#closeInfo);
        this.#wake();
      });
    });
    socket.addEventListener("message", (e) => {
      const text = String(e.data);
      this.frames.push(text);
      const frame = JSON.parse(text);
      if (frame.type === "batch") this.events.push(...frame.events);
      else this.events.push(frame);
      this.#wake();
    });
  }

  #wake() {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Opens a socket with the session cookie; resolves once open (or rejects). */
  static open(
    server: { origin: string },
    cookie: string,
    options: JoinOptions & { origin?: string } = {},
  ): Promise<TestClient> {
    const base = server.origin.replace(/^http/, "ws");
    const path = options.room ? `/ws/${options.room}` : "/ws";
    let query = options.since !== undefined ? `?since=${options.since}` : "";
    if (options.epoch !== undefined) {
      query += `${query ? "&" : "?"}epoch=${encodeURIComponent(options.epoch)}`;
    }
    const headers: Record<string, string> = { cookie };
    if (options.origin) headers.origin = options.origin;
    // Deno's WebSocket takes extra headers, which browsers do not allow.
    const socket = new WebSocket(
      `${base}${path}${query}`,
      { headers } as unknown as string[],
    );
    const client = new TestClient(socket, cookie);
    return new Promise((resolve, reject) => {
      socket.addEventListener("open", () => resolve(client), { once: true });
      socket.addEventListener(
        "error",
        () => reject(new Error(`WebSocket to ${path} failed`)),
        { once: true },
      );
    });
  }

  /** Opens a socket and waits for its welcome frame. */
  static async join(
    server: { origin: string },
    cookie: string,
    options: JoinOptions = {},
  ): Promise<TestClient> {
    const client = await TestClient.open(server, cookie, options);
    await client.waitFor((e) => e.type === "welcome");
    return client;
  }

  /** The welcome frame, once received. */
  get welcome(): ServerEvent {
    return this.events.find((e) => e.type === "welcome")!;
  }

  /** The nickname the welcome frame named, for messages about this client. */
  get nickname(): string {
    return this.welcome?.nickname ?? "(not welcomed)";
  }

  /** Sends a frame: objects as JSON, strings as they are. */
  send(frame: unknown): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Waits until an event after index `from` matches, and returns it. */
  async waitFor(
    match: (event: ServerEvent) => boolean,
    options: { from?: number; timeoutMs?: number; what?: string } = {},
  ): Promise<ServerEvent> {
    const what = options.what ?? "the awaited event";
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    for (;;) {
      for (let i = options.from ?? 0; i < this.events.length; i++) {
        if (match(this.events[i])) return this.events[i];
      }
      if (this.#closeInfo) {
        throw new Error(
          `Socket closed (${this.#closeInfo.code}) before ${what}; got ${
            JSON.stringify(this.events).slice(0, 500)
          }`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out waiting for ${what}; got ${
            JSON.stringify(this.events).slice(0, 500)
          }`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the message with `text` from anyone. */
  waitForText(text: string, timeoutMs?: number): Promise<ServerEvent> {
    return this.waitFor((e) => e.type === "message" && e.text === text, {
      timeoutMs,
      what: `the message ${JSON.stringify(text)}`,
    });
  }

  /** Waits for the join or leave notice of `nickname`. */
  waitForNotice(
    type: "join" | "leave",
    nickname: string,
    timeoutMs?: number,
  ): Promise<ServerEvent> {
    return this.waitFor((e) => e.type === type && e.nickname === nickname, {
      timeoutMs,
      what: `the ${type} of ${nickname}`,
    });
  }

  /** Events of one type. */
  ofType(type: string): ServerEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Closes the socket and waits for the close to finish. */
  async close(code = 1000): Promise<void> {
    if (this.socket.readyState < WebSocket.CLOSING) this.socket.close(code);
    await this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Waits until every one of `clients` has seen `nickname` join. */
export async function seenJoin(
  clients: TestClient[],
  nickname: string,
): Promise<void> {
  for (const client of clients) await client.waitForNotice("join", nickname);
}

let barriers = 0;

/**
 * Posts a unique message from `from` and waits until every client in `all`
 * has it. A room is delivered in order, so after this nothing sent earlier is
 * still on its way.
 */
export async function barrier(
  from: TestClient,
  all: TestClient[] = [from],
): Promise<void> {
  const text = `barrier ${++barriers}`;
  from.send({ type: "message", text });
  for (const client of all) await client.waitForText(text);
}

/** Waits until `check` is true, polling; for state that has no event. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.what ?? "a condition"}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A response read whole. */
export interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** GETs `path` as a browser holding `cookie` would, without following redirects. */
export async function getPage(
  server: { origin: string },
  path: string,
  cookie?: string,
): Promise<Answer> {
  const res = await fetch(`${server.origin}${path}`, {
    headers: cookie ? { cookie } : {},
    redirect: "manual",
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** GET /healthz, parsed. */
export async function healthz(
  server: { origin: string },
): Promise<{ status: number; body: ServerEvent }> {
  const res = await fetch(`${server.origin}/healthz`);
  return { status: res.status, body: await res.json() };
}

/**
 * Polls /healthz until it answers 200; fails when `process` exits first or
 * `timeoutMs` passes.
 */
export async function waitUntilServing(
  origin: string,
  process: Deno.ChildProcess,
  timeoutMs: number,
): Promise<void> {
  let exit: Deno.CommandStatus | undefined;
  process.status.then((status) => exit = status);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${origin}/healthz`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    if (exit) throw new Error(`The server exited early with ${exit.code}`);
    if (Date.now() > deadline) {
      throw new Error(`The server did not start within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A server running as its own process, as `deno task start` runs it. */
export interface ChildServer {
  origin: string;
  port: number;
  process: Deno.ChildProcess;
  /** Sends `signal` and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** What it wrote to stderr so far (only with `captureStderr`; else it goes to the test's). */
  stderr(): string;
  /** `await using` stops it with SIGTERM. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts main.ts in a child process and waits until /healthz answers. */
export async function spawnServer(
  env: Record<string, string>,
  options: { captureStderr?: boolean } = {},
): Promise<ChildServer> {
  const port = freePort();
  const root = new URL("../../", import.meta.url).pathname;
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      // A REDIS_URL makes the server fetch the Redis client on demand; the
      // tests' lock file pins it and keeps it out of the server's deno.lock.
      "--lock=tests/deno.lock",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-run=deno",
      "main.ts",
    ],
    cwd: root,
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      COOKIE_SECRET: SECRET,
      ...LOOSE_ADDRESS_LIMITS,
      ...env,
    },
    stdout: "null",
    stderr: options.captureStderr ? "piped" : "inherit",
  });
  const process = command.spawn();
  const origin = `http://127.0.0.1:${port}`;
  let stderr = "";
  const drained = options.captureStderr
    ? process.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (stderr += chunk) }),
    )
    : Promise.resolve();
  let status: Deno.CommandStatus | undefined;
  const done = Promise.all([process.status, drained]).then((
    [s],
  ) => (status = s));
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (!status) {
      try {
        process.kill(signal);
      } catch {
        // Already gone.
      }
    }
    await done;
    return status!;
  };
  try {
    await waitUntilServing(origin, process, 20_000);
  } catch (err) {
    await stop("SIGKILL");
    throw err;
  }
  return {
    origin,
    port,
    process,
    stop,
    stderr: () => stderr,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** How many events of `type` about `nickname` a client got. */
export function count(
  client: EventLog,
  type: string,
  nickname: string,
): number {
  return client.events.filter((e) => e.type === type && e.nickname === nickname)
    .length;
}

/** The texts of the messages among `events`, only those of `nickname` if given. */
export function texts(events: ServerEvent[], nickname?: string): string[] {
  return events.filter((e) =>
    e.type === "message" && (nickname === undefined || e.nickname === nickname)
  ).map((e) => e.text);
}

/** The integers from `from` to `to`, both included. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * Waits until each client has an event matching `match`, then fails first
 * on any error frame, since a refused message explains a missing one better
 * than the list of what arrived, and then on any client that timed out,
 * naming `what` was awaited.
 */
export async function settle(
  clients: TestClient[],
  match: (event: ServerEvent) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const waits = await Promise.allSettled(
    clients.map((c) => c.waitFor(match, { timeoutMs, what })),
  );
  for (const client of clients) {
    if (client.ofType("error").length > 0) {
      throw new Error(
        `${client.nickname} was sent error frames: ${
          JSON.stringify(client.ofType("error"))
        }`,
      );
    }
  }
  const missed = clients.filter((_, i) => waits[i].status === "rejected");
  if (missed.length > 0) {
    const got = missed.map((c) =>
      `${c.nickname} (${c.events.length} events, last ${
        JSON.stringify(c.events.at(-1))
      })`
    );
    throw new Error(
      `${missed.length} of ${clients.length} clients did not get ${what} within ${timeoutMs} ms: ${
        got.join("; ")
      }`,
    );
  }
}

/**
 * Every client sends `rounds` messages, `text(nickname, round)`, taking turns;
 * then every client must have all of them: one id sequence from 1 for the
 * room, whichever instance stored a message, the same id for the same
 * message everywhere, and each sender's texts in the order sent.
 */
export async function exchange(
  clients: TestClient[],
  rounds: number,
  text: (nickname: string, round: number) => string,
): Promise<void> {
  for (let i = 1; i <= rounds; i++) {
    for (const client of clients) {
      client.send({ type: "message", text: text(client.nickname, i) });
    }
  }
  const total = clients.length * rounds;
  await settle(
    clients,
    (e) => e.type === "message" && e.id >= total,
    `message ${total}`,
  );
  const reference = clients[0].ofType("message").map((m) =>
    `${m.id}:${m.text}`
  );
  for (const client of clients) {
    const got = client.ofType("message");
    assert.deepEqual(got.map((m) => m.id), range(1, total), client.nickname);
    assert.deepEqual(got.map((m) => `${m.id}:${m.text}`), reference);
    for (const sender of clients) {
      assert.deepEqual(
        texts(got, sender.nickname),
        range(1, rounds).map((i) => text(sender.nickname, i)),
        `${sender.nickname}'s messages as ${client.nickname} got them`,
      );
    }
  }
}
