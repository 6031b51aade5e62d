/**
 * The real server as a child process: on SIGTERM (what Deno Deploy and
 * container runtimes send) and SIGINT (Ctrl-C) it tells every client to
 * reconnect with 1012, exits 0 well within the 5 s a platform allows, and
 * stops listening.
 */
import assert from "node:assert/strict";
import { loginOk, SECRET, TestClient } from "./helpers/harness.ts";

const MAIN = new URL("../main.ts", import.meta.url);
const ROOT = new URL("..", import.meta.url);

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function waitForHealthz(origin: string, child: Deno.ChildProcess) {
  const deadline = Date.now() + 15_000;
  let exited = false;
  child.status.then(() => exited = true);
  for (;;) {
    try {
      const res = await fetch(`${origin}/healthz`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    if (exited) throw new Error("The server exited before it was ready");
    if (Date.now() > deadline) {
      throw new Error("The server did not start in 15 s");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`shutdown on ${signal} closes sockets with 1012, exits 0 within 5 s and stops listening`, async () => {
    const port = freePort();
    const dir = await Deno.makeTempDir({ prefix: "chat-shutdown-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        `--allow-read=.,${dir}`,
        `--allow-write=./data,${dir}`,
        MAIN.pathname,
      ],
      cwd: ROOT.pathname,
      env: {
        PORT: String(port),
        HOSTNAME: "127.0.0.1",
        COOKIE_SECRET: SECRET,
        KV_PATH: `${dir}/chat.db`,
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Collecting the output also waits for the exit and frees the pipes.
    const output = child.output();
    const clients: TestClient[] = [];
    try {
      const server = { origin: `http://127.0.0.1:${port}` };
      await waitForHealthz(server.origin, child);
      for (const nickname of ["first", "second"]) {
        clients.push(
          await TestClient.join(server, await loginOk(server, nickname)),
        );
      }

      const sentAt = Date.now();
      child.kill(signal);
      const exit = await Promise.race([
        output,
        new Promise<undefined>((r) => setTimeout(r, 5000)),
      ]);
      assert.ok(exit, `the server did not exit within 5 s of ${signal}`);
      const { code, stderr } = exit;
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      assert.ok(Date.now() - sentAt < 5000);
      assert.equal(
        await accepts(port),
        false,
        "the port still accepts connections",
      );

      const closes = await Promise.all(clients.map((c) => c.closed));
      assert.deepEqual(
        closes.map((c) => c.code),
        [1012, 1012],
        JSON.stringify(closes),
      );
    } finally {
      for (const client of clients) {
        if (client.socket.readyState < WebSocket.CLOSING) client.socket.close();
      }
      await Promise.all(clients.map((c) => c.closed));
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited, as it should have.
      }
      await output;
      await Deno.remove(dir, { recursive: true });
    }
  });
}
