/**
 * A real redis-server for the tests, started on a free loopback port without
 * persistence, and killed at the end (or mid-test, to make an outage).
 *
 * @module
 */
import { freePort } from "./ports.ts";

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

/** Whether redis-server is on the PATH; tests that need it are skipped without it. */
export const hasRedis: boolean = redisInstalled();

/** A redis-server this test started. */
export interface RedisServer {
  port: number;
  url: string;
  /** Stops it at once (SIGKILL: an outage, not a shutdown) and waits for the exit. */
  kill(): Promise<void>;
  /** `await using` kills it. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Whether a Redis answers PING on `port` (`locked`: with NOAUTH); bounded so a stuck peer cannot hang a test. */
export async function ping(port: number, locked = false): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), 500);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buffer = new Uint8Array(64);
    const n = await conn.read(buffer);
    return n !== null &&
      new TextDecoder().decode(buffer.subarray(0, n)).startsWith(
        locked ? "-NOAUTH" : "+PONG",
      );
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

/** Starts redis-server on loopback without persistence and waits for PONG (or, with a password, its NOAUTH refusal). */
export async function startRedis(
  port = freePort(),
  options: { password?: string } = {},
): Promise<RedisServer> {
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
      ...(options.password ? ["--requirepass", options.password] : []),
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
  while (!(await ping(port, options.password !== undefined))) {
    if (exited || Date.now() > deadline) {
      await kill();
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    url: options.password
      ? `redis://:${options.password}@127.0.0.1:${port}`
      : `redis://127.0.0.1:${port}`,
    kill,
    [Symbol.asyncDispose]: kill,
  };
}
