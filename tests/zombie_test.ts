/**
 * Upgrades that race a logout or the client's own close. Deno ignores
 * close() on a socket still connecting, so a connection closed meanwhile
 * used to open later and stay open outside every count; now it is closed as
 * soon as it opens, and /healthz counts exactly the sockets really open.
 */
import assert from "node:assert/strict";
import {
  eventually,
  healthz,
  loginOk,
  logout,
  spawnServer,
  startServer,
} from "./helpers/harness.ts";
import { OPEN_TIMEOUT_MS } from "../lib/chat/connection.ts";
import { RawSocket } from "./helpers/raw_ws.ts";

/** Room for every upgrade of a round, so no refusal hides a race. */
const ENV = { MAX_CONNECTIONS_PER_IP: "1000", MAX_CONNECTIONS: "1000" };

/** Whether the server still holds `socket` open after `ms` (no close frame, no EOF). */
async function stillOpen(socket: RawSocket, ms: number): Promise<boolean> {
  try {
    await socket.waitForClose(ms);
    return false;
  } catch {
    return !socket.eof;
  }
}

Deno.test("hundreds of upgrades racing a logout leave no socket open and /healthz at zero", async () => {
  await using server = await startServer(ENV);
  const sockets: RawSocket[] = [];
  try {
    for (let round = 0; round < 30; round++) {
      const cookie = await loginOk(server, `racer${round}`);
      const upgrades = Array.from(
        { length: 10 },
        () => RawSocket.upgrade(server, { cookie }),
      );
      // The logout lands while the upgrades are in flight.
      await new Promise((r) => setTimeout(r, round % 3));
      await logout(server, cookie);
      for (const { socket } of await Promise.all(upgrades)) {
        if (socket) sockets.push(socket);
      }
    }
    assert.ok(sockets.length > 0, "no upgrade won the race");
    const open = await Promise.all(sockets.map((s) => stillOpen(s, 3000)));
    assert.equal(
      open.filter(Boolean).length,
      0,
      `${sockets.length} upgraded`,
    );
    await eventually(async () =>
      (await healthz(server)).body.connections === 0
    );
  } finally {
    for (const socket of sockets) socket.abort();
  }
});

Deno.test("hundreds of clients closing right after their upgrade leave /healthz matching the open sockets", async () => {
  // In a child process: Deno fires neither open nor close for many of these
  // upgrades, and its server.shutdown() then waits for them forever, so the
  // server is ended with SIGKILL (README, Security).
  const server = await spawnServer({ ...ENV, KV_PATH: ":memory:" });
  try {
    const cookie = await loginOk(server, "dropper");
    using kept = await RawSocket.join(server, { cookie });
    const key = btoa("0123456789abcdef");
    const request = new TextEncoder().encode(
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nCookie: ${cookie}\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await Promise.all(Array.from({ length: 300 }, async () => {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
      });
      try {
        await conn.write(request);
      } finally {
        conn.close();
      }
    }));
    // Those that never open are given up after OPEN_TIMEOUT_MS.
    await eventually(
      async () => (await healthz(server)).body.connections === 1,
      { timeoutMs: OPEN_TIMEOUT_MS * 3, what: "one connection left" },
    );
    // The one socket that stayed is really open and still served.
    await kept.send({ type: "message", text: "still here" });
    await kept.waitFor((e) => e.type === "message" && e.text === "still here");
  } finally {
    await server.stop("SIGKILL");
  }
});

Deno.test("an upgrade racing shutdown is closed with 1012 once it opens", async () => {
  const server = await startServer(ENV);
  try {
    const cookie = await loginOk(server, "late");
    const upgrades = Array.from(
      { length: 20 },
      () => RawSocket.upgrade(server, { cookie }),
    );
    await new Promise((r) => setTimeout(r, 1));
    server.chat.hub.shutdown();
    for (const { socket } of await Promise.all(upgrades)) {
      if (!socket) continue;
      using s = socket;
      const ended = await s.waitForClose(3000);
      if (ended.kind === "close") assert.equal(ended.code, 1012);
    }
    assert.equal(server.chat.hub.stats().connections, 0);
  } finally {
    await server.close();
  }
});
