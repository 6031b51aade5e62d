/**
 * The real server as a child process: on SIGTERM (what Deno Deploy and
 * container runtimes send) and SIGINT (Ctrl-C) it tells every client to
 * reconnect with 1012, exits 0 well within the 5 s a platform allows, and
 * stops listening.
 */
import assert from "node:assert/strict";
import {
  joinAs,
  SECRET,
  tempDir,
  type TestClient,
  waitUntilServing,
} from "./helpers/harness.ts";
import { accepts, freePort } from "./helpers/ports.ts";

const MAIN = new URL("../main.ts", import.meta.url);
const ROOT = new URL("..", import.meta.url);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`shutdown on ${signal} closes sockets with 1012, exits 0 within 5 s and stops listening`, async () => {
    const port = freePort();
    await using dir = await tempDir("chat-shutdown-");
    // The permissions of `deno task start`, plus the test's own KV folder.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        `--allow-read=.,${dir.path}`,
        `--allow-write=./data,${dir.path}`,
        MAIN.pathname,
      ],
      cwd: ROOT.pathname,
      env: {
        PORT: String(port),
        HOST: "127.0.0.1",
        COOKIE_SECRET: SECRET,
        KV_PATH: `${dir.path}/chat.db`,
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
      await waitUntilServing(server.origin, child, 15_000);
      for (const nickname of ["first", "second"]) {
        clients.push(await joinAs(server, nickname));
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
      await Promise.all(clients.map((c) => c.close()));
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited, as it should have.
      }
      await output;
    }
  });
}
