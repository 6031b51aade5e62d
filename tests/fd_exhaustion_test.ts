import assert from "node:assert/strict";
import {
  backoffDelay,
  isDescriptorExhaustion,
  serveAndRelisten,
} from "../lib/app/relisten.ts";
import type { LogFields } from "../lib/app/log.ts";
import { eventually, joinAs, spawnServer } from "./helpers/harness.ts";

/** Lowers a running process's soft descriptor limit, as `ulimit -n` would have. */
async function limitDescriptors(pid: number, soft: number): Promise<void> {
  const { success, stderr } = await new Deno.Command("prlimit", {
    args: [`--pid=${pid}`, `--nofile=${soft}:`],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
}

async function healthy(origin: string): Promise<boolean> {
  try {
    const res = await fetch(`${origin}/healthz`, {
      signal: AbortSignal.timeout(500),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

Deno.test("idle connections past the descriptor limit neither kill the server nor its sockets", async () => {
  await using server = await spawnServer({ KV_PATH: ":memory:" }, {
    captureStderr: true,
  });
  await limitDescriptors(server.process.pid, 256);
  let exited = false;
  server.process.status.then(() => exited = true);
  await using alice = await joinAs(server, "alice");
  alice.send({ type: "message", text: "before", cid: "b1" });
  await alice.waitForText("before");

  const idle: Deno.TcpConn[] = [];
  try {
    // More than the limit: the kernel queues the rest once accept fails.
    // A failed connect is fine (refused, reset, not connected): between
    // listeners nobody listens, and a closing one drops what it had queued.
    for (let i = 0; i < 300; i++) {
      await Deno.connect({ hostname: "127.0.0.1", port: server.port }).then(
        (conn) => void idle.push(conn),
        () => {},
      );
    }
    await eventually(
      () => exited || server.stderr().includes("Out of file descriptors"),
      { timeoutMs: 5000, what: "the server to run out of descriptors" },
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(exited, false, `The server exited: ${server.stderr()}`);
    alice.send({ type: "message", text: "during", cid: "d1" });
    await alice.waitForText("during");
  } finally {
    for (const conn of idle) {
      try {
        conn.close();
      } catch {
        // Reset by the server already.
      }
    }
  }

  await eventually(() => healthy(server.origin), {
    timeoutMs: 5000,
    what: "/healthz to answer again",
  });
  await using bob = await joinAs(server, "bob");
  bob.send({ type: "message", text: "after", cid: "a1" });
  await alice.waitForText("after");
  const logged = server.stderr().split("Out of file descriptors").length - 1;
  assert.equal(logged, 1, "Logged once per episode");
  // close() stops the listener started after the failure, not the dead one.
  await bob.close();
  await alice.close();
  assert.equal((await server.stop()).code, 0);
});

Deno.test("only descriptor exhaustion counts as such", () => {
  assert.ok(
    isDescriptorExhaustion(
      new Deno.errors.Http("Error: Too many open files (os error 24)"),
    ),
  );
  assert.ok(isDescriptorExhaustion(new Error("os error 23")));
  assert.equal(isDescriptorExhaustion(new Deno.errors.AddrInUse("x")), false);
  assert.equal(isDescriptorExhaustion(new Error("os error 240")), false);
  assert.equal(isDescriptorExhaustion("Too many open files"), false);
});

Deno.test("back-off doubles up to its cap", () => {
  const limits = { minMs: 100, maxMs: 2000 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 99].map((n) => backoffDelay(n, limits)),
    [100, 200, 400, 800, 1600, 2000, 2000],
  );
});

/** A stand-in listener whose `finished` settles as told. */
function fakeServer(
  finished: Promise<void>,
): Deno.HttpServer<Deno.NetAddr> {
  return { finished } as unknown as Deno.HttpServer<Deno.NetAddr>;
}

Deno.test("listens again after exhaustion, and rethrows anything else", async () => {
  const lines: [string, LogFields | undefined][] = [];
  const log = (message: string, fields?: LogFields) =>
    void lines.push([message, fields]);
  const emfile = () =>
    Promise.reject(new Deno.errors.Http("Too many open files (os error 24)"));
  let calls = 0;
  await serveAndRelisten(
    () => fakeServer(++calls < 4 ? emfile() : Promise.resolve()),
    { log, minDelayMs: 1, maxDelayMs: 2 },
  );
  assert.equal(calls, 4);
  assert.equal(lines.length, 1);

  await assert.rejects(
    serveAndRelisten(
      () => fakeServer(Promise.reject(new Deno.errors.AddrInUse("Taken"))),
      { log, minDelayMs: 1 },
    ),
    Deno.errors.AddrInUse,
  );

  calls = 0;
  await serveAndRelisten(() => fakeServer((calls++, emfile())), {
    log,
    minDelayMs: 1,
    stopping: () => calls >= 2,
  });
  assert.equal(calls, 2);
});
