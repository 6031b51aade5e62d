/**
 * Shared test plumbing: the real app served on port 0, logins over HTTP,
 * and WebSocket clients that record every event they receive.
 *
 * @module
 */
import { type Config, loadConfig } from "../../lib/app/config.ts";
import { type ChatApp, createApp } from "../../main.ts";

/** A secret long enough for config validation. */
export const SECRET = "test-secret-0123456789-abcdefghijklmnop";

/** Builds a config for tests: in-memory KV, loopback, quiet defaults. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    COOKIE_SECRET: SECRET,
    KV_PATH: ":memory:",
    HOSTNAME: "127.0.0.1",
    PORT: "0",
    ...env,
  });
}

/** A running app on a free loopback port. */
export interface TestServer {
  url: string;
  origin: string;
  port: number;
  chat: ChatApp;
  logs: string[];
  close(): Promise<void>;
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
  let closed = false;
  return {
    url: origin,
    origin,
    port,
    chat,
    logs,
    async close() {
      if (closed) return;
      closed = true;
      await chat.close();
    },
  };
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
  options: { cookie?: string; origin?: string } = {},
): Promise<Login> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    origin: options.origin ?? server.origin,
  };
  if (options.cookie) headers.cookie = options.cookie;
  const res = await fetch(`${server.origin}/login`, {
    method: "POST",
    headers,
    body: new URLSearchParams({ nickname }),
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

// deno-lint-ignore no-explicit-any
type Event = any;

/** A WebSocket client that records each event, unpacking batch frames. */
export class TestClient {
  readonly socket: WebSocket;
  readonly events: Event[] = [];
  readonly frames: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];
  #closeInfo: { code: number; reason: string } | undefined;

  private constructor(socket: WebSocket) {
    this.socket = socket;
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
    options: { room?: string; since?: number; origin?: string } = {},
  ): Promise<TestClient> {
    const base = server.origin.replace(/^http/, "ws");
    const path = options.room ? `/ws/${options.room}` : "/ws";
    const query = options.since !== undefined ? `?since=${options.since}` : "";
    const headers: Record<string, string> = { cookie };
    if (options.origin) headers.origin = options.origin;
    // Deno's WebSocket takes extra headers, which browsers do not allow.
    const socket = new WebSocket(
      `${base}${path}${query}`,
      { headers } as unknown as string[],
    );
    const client = new TestClient(socket);
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
    options: { room?: string; since?: number } = {},
  ): Promise<TestClient> {
    const client = await TestClient.open(server, cookie, options);
    await client.waitFor((e) => e.type === "welcome");
    return client;
  }

  /** The welcome frame, once received. */
  get welcome(): Event {
    return this.events.find((e) => e.type === "welcome");
  }

  /** Sends a frame: objects as JSON, strings as they are. */
  send(frame: unknown): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Waits until an event after index `from` matches, and returns it. */
  async waitFor(
    match: (event: Event) => boolean,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<Event> {
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    for (;;) {
      for (let i = options.from ?? 0; i < this.events.length; i++) {
        if (match(this.events[i])) return this.events[i];
      }
      if (this.#closeInfo) {
        throw new Error(
          `Socket closed (${this.#closeInfo.code}) before the awaited event; got ${
            JSON.stringify(this.events).slice(0, 500)
          }`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out waiting for an event; got ${
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
  waitForText(text: string, timeoutMs?: number): Promise<Event> {
    return this.waitFor((e) => e.type === "message" && e.text === text, {
      timeoutMs,
    });
  }

  /** Events of one type. */
  ofType(type: string): Event[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Closes the socket and waits for the close to finish. */
  async close(code = 1000): Promise<void> {
    if (this.socket.readyState < WebSocket.CLOSING) this.socket.close(code);
    await this.closed;
  }
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

/** A free loopback TCP port, found by binding port 0 and letting it go. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A server running as its own process, as `deno task start` runs it. */
export interface ChildServer {
  origin: string;
  port: number;
  process: Deno.ChildProcess;
  /** Sends `signal` and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Starts main.ts in a child process and waits until /healthz answers. */
export async function spawnServer(
  env: Record<string, string>,
): Promise<ChildServer> {
  const port = freePort();
  const root = new URL("../../", import.meta.url).pathname;
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
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
      HOSTNAME: "127.0.0.1",
      COOKIE_SECRET: SECRET,
      ...env,
    },
    stdout: "null",
    stderr: "inherit",
  });
  const process = command.spawn();
  const origin = `http://127.0.0.1:${port}`;
  let status: Deno.CommandStatus | undefined;
  const done = process.status.then((s) => (status = s));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (status) throw new Error(`Server exited early with ${status.code}`);
    try {
      const res = await fetch(`${origin}/healthz`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      process.kill("SIGKILL");
      await done;
      throw new Error("Server did not start within 20 s");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    origin,
    port,
    process,
    async stop(signal: Deno.Signal = "SIGTERM") {
      if (!status) {
        try {
          process.kill(signal);
        } catch {
          // Already gone.
        }
      }
      await done;
      return status!;
    },
  };
}

/** How many events of `type` about `nickname` a client got. */
export function count(
  client: TestClient,
  type: string,
  nickname: string,
): number {
  return client.ofType(type).filter((e) => e.nickname === nickname).length;
}

/** The integers from `from` to `to`, both included. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * Waits until each client has an event matching `match` (or time runs out),
 * then fails first on any error frame, since a refused message explains a
 * missing one better than the list of what arrived.
 */
export async function settle(
  clients: TestClient[],
  match: (event: Event) => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  await Promise.allSettled(clients.map((c) => c.waitFor(match, { timeoutMs })));
  for (const client of clients) {
    if (client.ofType("error").length > 0) {
      throw new Error(
        `${client.welcome?.nickname} was sent error frames: ${
          JSON.stringify(client.ofType("error"))
        }`,
      );
    }
  }
}
