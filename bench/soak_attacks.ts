/**
 * The soak's attacks on the server's resources (issue 11, items 1 to 4 and
 * 13), each a loop that runs until the soak's deadline and counts what it
 * achieved; bench/soak_identity.ts has the rest. Every kind of attacker has
 * a fixed address of its own (198.18.x.y), sent as X-Forwarded-For.
 *
 * @module
 */
import { closeQuietly, concat, encodeFrame, OP } from "./ws_client.ts";
import {
  type Attack,
  type AttackContext,
  AttackSocket,
  bump,
  getStatus,
  login,
  type Peer,
  peer,
  running,
  session,
  sleep,
  type Tally,
} from "./soak_net.ts";
import { hostAndText, impersonation, zombies } from "./soak_identity.ts";

export type { Attack, AttackContext } from "./soak_net.ts";

const encoder = new TextEncoder();

/**
 * Opens a socket, writes `frame` 50 at a time for `ms` without reading, then
 * reads how the socket ended: a flooder that keeps sending after its close,
 * and a paused reader, alike.
 */
async function floodRound(
  who: Peer,
  cookie: string,
  frame: Uint8Array,
  ms: number,
): Promise<string> {
  const socket = await AttackSocket.open(who, cookie);
  if (typeof socket === "string") return socket;
  const chunk = concat(Array.from({ length: 50 }, () => frame));
  const stop = Date.now() + ms;
  while (Date.now() < stop && await socket.write(chunk)) await sleep(2);
  return await socket.readUntilClose(10_000);
}

/** An attack that repeats {@linkcode floodRound} with one frame from one address. */
function flood(
  label: string,
  address: string,
  frames: () => Uint8Array[],
): Attack {
  const tally: Tally = {};
  return {
    label,
    tally,
    async run(ctx) {
      const who = peer(ctx, address);
      const nickname = `flood${address.split(".").slice(2).join("x")}`;
      const cookie = await session(ctx, who, nickname);
      let round = 0;
      while (running(ctx)) {
        const list = frames();
        bump(
          tally,
          await floodRound(who, cookie, list[round++ % list.length], 300),
        );
        await sleep(200);
      }
    },
  };
}

function text(frame: unknown): Uint8Array {
  return encodeFrame(OP.TEXT, JSON.stringify(frame));
}

/** Hundreds of idle TCP connections in waves, plus slowloris headers. */
function idleConnections(): Attack {
  const tally: Tally = {};
  return {
    label: "1. idle TCP connections (waves) + slowloris",
    tally,
    async run(ctx) {
      const slow = Array.from({ length: 50 }, () => slowloris(ctx, tally));
      // The other attackers log in first; each wave then starves them too.
      await sleep(Math.min(2000, (ctx.until - Date.now()) / 3));
      while (running(ctx)) {
        const conns: Deno.TcpConn[] = [];
        const opening = Array.from({ length: ctx.idle }, async () => {
          try {
            conns.push(
              await Deno.connect({ hostname: "127.0.0.1", port: ctx.port }),
            );
            bump(tally, "idle opened");
          } catch {
            bump(tally, "idle connect refused");
          }
        });
        await Promise.all(opening);
        bump(tally, "waves");
        await sleep(Math.min(3000, Math.max(0, ctx.until - Date.now())));
        for (const conn of conns) closeQuietly(conn);
        await sleep(4000);
      }
      await Promise.all(slow);
    },
  };
}

/** One slowloris connection: a header byte every 2 s, reconnecting when dropped. */
async function slowloris(ctx: AttackContext, tally: Tally): Promise<void> {
  const head = encoder.encode(
    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + "a".repeat(500),
  );
  while (running(ctx)) {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port: ctx.port });
    } catch {
      bump(tally, "slowloris connect refused");
      await sleep(2000);
      continue;
    }
    bump(tally, "slowloris opened");
    try {
      for (let i = 0; i < head.length && running(ctx); i++) {
        await conn.write(head.subarray(i, i + 1));
        await sleep(2000);
      }
    } catch {
      bump(tally, "slowloris dropped by server");
    }
    closeQuietly(conn);
  }
}

/** One fragmented text message of SOAK_FRAGMENT_MIB in 1 MiB frames. */
function fragmented(): Attack {
  const tally: Tally = {};
  return {
    label: "2. fragmented message (1 MiB continuation frames)",
    tally,
    async run(ctx) {
      const who = peer(ctx, "198.18.2.1");
      const cookie = await session(ctx, who, "hoarder");
      let socket: AttackSocket | string = "";
      while (running(ctx)) {
        socket = await AttackSocket.open(who, cookie);
        if (typeof socket !== "string") break;
        await sleep(500);
      }
      if (typeof socket === "string") return void bump(tally, socket);
      const piece = new Uint8Array(1024 * 1024).fill(0x78);
      const started = Date.now();
      let sent = 0;
      for (let i = 0; i < ctx.fragmentMiB; i++) {
        const op = i === 0 ? OP.TEXT : OP.CONTINUATION;
        const fin = i === ctx.fragmentMiB - 1;
        if (!await socket.write(encodeFrame(op, piece, { fin }))) break;
        sent++;
      }
      tally["MiB written"] = sent;
      // Not read meanwhile: a server whose receive loop died closes it only
      // when its idle ping goes unanswered (IDLE_TIMEOUT_SECONDS).
      const left = Math.max(0, ctx.until - Date.now()) + 45_000;
      const how = await socket.readUntilClose(left);
      bump(tally, how);
      tally["seconds to close"] = Math.round((Date.now() - started) / 1000);
    },
  };
}

/** A reader that never reads and resends one cid; typing floods; invalid frames. */
function backlogAttacks(): Attack[] {
  const resend = text({ type: "message", cid: "same", text: "r".repeat(2000) });
  return [
    flood("3a. paused reader resending one cid", "198.18.3.1", () => [resend]),
    flood("3b. typing flood", "198.18.3.2", () => [text({ type: "typing" })]),
    flood(
      "3c. invalid frames (bad JSON, oversized frame)",
      "198.18.3.3",
      () => [
        encodeFrame(OP.TEXT, `{"not json ${"y".repeat(200)}`),
        encodeFrame(OP.TEXT, "z".repeat(20_000)),
      ],
    ),
  ];
}

/** Fresh sessions from one address, posting across them; new rooms. */
function rotationAttacks(): Attack[] {
  const logins: Tally = {};
  const rooms: Tally = {};
  return [{
    label: "4a. login rotation from one address, posting across sessions",
    tally: logins,
    async run(ctx) {
      const who = peer(ctx, "198.18.4.1");
      const sockets: AttackSocket[] = [];
      const reading: Promise<string>[] = [];
      let n = 0;
      while (running(ctx)) {
        const mine = `rot${n++}`;
        const { status, cookie } = await login(who, mine);
        bump(logins, `login ${status}`);
        if (cookie && sockets.length < 15) {
          const socket = await AttackSocket.open(who, cookie);
          if (typeof socket === "string") bump(logins, socket);
          else {
            sockets.push(socket);
            reading.push(
              socket.readUntilClose(ctx.until - Date.now() + 2000, (e) => {
                if (
                  e.type === "message" &&
                  e.nickname === mine
                ) {
                  bump(logins, "message posted");
                } else if (e.type === "error") {
                  bump(logins, `message refused ${e.code}`);
                }
              }),
            );
          }
        }
        for (const socket of sockets) {
          await socket.send({ type: "message", text: `rotated ${n}` });
        }
        await sleep(50);
      }
      for (const how of await Promise.all(reading)) {
        bump(logins, `socket ${how}`);
      }
    },
  }, {
    label: "4b. new-room creation flood",
    tally: rooms,
    async run(ctx) {
      const who = peer(ctx, "198.18.4.2");
      const cookie = await session(ctx, who, "roomer");
      let n = 0;
      while (running(ctx)) {
        bump(
          rooms,
          `room ${await getStatus(who, `/chat/flood${n++}`, cookie)}`,
        );
        await sleep(50);
      }
    },
  }];
}

/** Every attack of the soak, fresh counters each time. */
export function allAttacks(): Attack[] {
  return [
    idleConnections(),
    fragmented(),
    ...backlogAttacks(),
    ...rotationAttacks(),
    impersonation(),
    zombies(),
    ...hostAndText(),
    flood("8. flooder that keeps sending after its close", "198.18.8.1", () => [
      text({ type: "message", text: "x".repeat(200) }),
    ]),
  ];
}
