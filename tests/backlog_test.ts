/**
 * Every server→client send honours SLOW_CLIENT_BYTES, not only room
 * broadcasts: a peer that never reads and resends one cid used to make the
 * server queue a re-confirmation per resend without bound. Measured on a
 * server in its own process, through its VmRSS.
 */
import assert from "node:assert/strict";
import {
  HIGH_RATE,
  loginOk,
  spawnServer,
  startServer,
} from "./helpers/harness.ts";
import { concat, encodeFrame, OP, RawSocket } from "./helpers/raw_ws.ts";

const MiB = 1024 * 1024;

/** The child's resident set, as `ps` reads it from /proc (Deno reads /proc only with --allow-all). */
async function rssBytes(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
  }).output();
  return Number(new TextDecoder().decode(out.stdout).trim()) * 1024;
}

/** A frame resending one message under one cid, 8 kB of text. */
function resend(): Uint8Array {
  return encodeFrame(
    OP.TEXT,
    JSON.stringify({ type: "message", cid: "same", text: "r".repeat(8000) }),
  );
}

Deno.test("a paused reader resending one cid is closed with 1013 and the server's RSS grows < 100 MB", async () => {
  await using server = await spawnServer({
    ...HIGH_RATE,
    KV_PATH: ":memory:",
    MAX_MESSAGE_CHARS: "8000",
    SLOW_CLIENT_BYTES: String(256 * 1024),
  });
  const pid = server.process.pid;
  // This peer never reads: not its welcome, not a confirmation.
  using reader = await RawSocket.open(server, {
    cookie: await loginOk(server, "paused"),
  });
  await new Promise((r) => setTimeout(r, 200));
  const before = await rssBytes(pid);
  let peak = before;
  const chunk = concat(Array.from({ length: 100 }, resend));
  // Up to 20,000 resends (160 MB of re-confirmations if nothing stopped them).
  let written = 0;
  for (let i = 0; i < 200; i++) {
    try {
      await reader.write(chunk);
    } catch {
      break; // The server closed the connection.
    }
    written += 100;
    if (i % 10 === 0) peak = Math.max(peak, await rssBytes(pid));
    const health = await fetch(`${server.origin}/healthz`);
    if ((await health.json()).connections === 0) break;
  }
  peak = Math.max(peak, await rssBytes(pid));
  const growth = peak - before;
  assert.ok(
    growth < 100 * MiB,
    `RSS grew by ${(growth / MiB).toFixed(0)} MiB after ${written} resends`,
  );
  // Once it reads, the peer finds what was queued, then the close.
  const ended = await reader.waitForClose(10_000);
  assert.deepEqual(ended, {
    kind: "close",
    code: 1013,
    reason: "Too slow: reconnect to catch up",
  });
});

Deno.test("resending one cid costs a strike each time: past 5x the burst the socket is closed with 1008", async () => {
  await using server = await startServer({
    RATE_BURST: "3",
    RATE_PER_SECOND: "1",
  });
  using socket = await RawSocket.join(server, {
    cookie: await loginOk(server, "echo"),
  });
  await socket.send({ type: "message", cid: "one", text: "hello" });
  await socket.waitFor((e) => e.type === "message" && e.cid === "one");
  for (let i = 0; i < 20; i++) {
    await socket.send({ type: "message", cid: "one", text: "hello" });
  }
  const ended = await socket.waitForClose();
  assert.deepEqual(ended, {
    kind: "close",
    code: 1008,
    reason: "Rate limit exceeded",
  });
  // 15 strikes are allowed (5 x 3), each answered with the original message.
  const confirmations = socket.events.filter((e) =>
    e.type === "message" && e.cid === "one"
  );
  assert.equal(confirmations.length, 1 + 15);
  assert.ok(confirmations.every((e) => e.id === confirmations[0].id));
});
