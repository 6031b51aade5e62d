/**
 * Hand-built frames against the real server: each protocol violation must end
 * only the offending socket, leave /healthz answering, and never reach the
 * room. The expected outcomes are what Deno 2.9 really does, found by running
 * these cases; several differ from what RFC 6455 suggests, and the comments
 * say where.
 */
import assert from "node:assert/strict";
import {
  barrier,
  eventually,
  healthz,
  loginOk,
  startServer,
  texts,
} from "./helpers/harness.ts";
import { closePayload, OP, RawSocket } from "./helpers/raw_ws.ts";

const MAX_FRAME_BYTES = 16384;

/** A message frame whose JSON is exactly `bytes` long. */
function messageOfSize(bytes: number, tag: string): string {
  const empty = JSON.stringify({ type: "message", text: tag });
  return JSON.stringify({
    type: "message",
    text: tag + "x".repeat(bytes - empty.length),
  });
}

type Outcome =
  /** The server sends a close frame with this code. */
  | { close: number }
  /** The server drops the TCP connection without a close frame. */
  | { eof: true }
  /** The socket stays open and the frame is answered with this error code. */
  | { error: string }
  /** The socket stays open and the frame's message reaches the room. */
  | { delivered: string };

interface Case {
  name: string;
  send(socket: RawSocket): Promise<void>;
  outcome: Outcome;
}

const cases: Case[] = [
  {
    // The limit is inclusive: a frame of exactly MAX_FRAME_BYTES is parsed.
    name:
      "a text frame of exactly MAX_FRAME_BYTES gets too_long and stays open",
    send: (s) => s.send(messageOfSize(MAX_FRAME_BYTES, "at-limit")),
    outcome: { error: "too_long" },
  },
  {
    // Deno has no per-message limit below 64 MiB, so this is the app's check.
    name: "a text frame one byte over MAX_FRAME_BYTES is closed with 1009",
    send: (s) => s.send(messageOfSize(MAX_FRAME_BYTES + 1, "oversized")),
    outcome: { close: 1009 },
  },
  {
    name: "a binary frame is closed with 1003",
    send: (s) => s.sendFrame(OP.BINARY, new Uint8Array([0x7b, 0x7d])),
    outcome: { close: 1003 },
  },
  {
    name: "a fragmented message within the limit is reassembled and delivered",
    send: async (s) => {
      const text = JSON.stringify({ type: "message", text: "in pieces" });
      await s.sendFrame(OP.TEXT, text.slice(0, 10), { fin: false });
      await s.sendFrame(OP.CONTINUATION, text.slice(10, 20), { fin: false });
      await s.sendFrame(OP.CONTINUATION, text.slice(20));
    },
    outcome: { delivered: "in pieces" },
  },
  {
    // Deno reassembles before the app sees anything, so the app's size
    // check closes it with 1009 once the last fragment arrives.
    name:
      "a fragmented message whose total exceeds the limit is closed with 1009",
    send: async (s) => {
      const text = messageOfSize(MAX_FRAME_BYTES + 1, "fragmented");
      await s.sendFrame(OP.TEXT, text.slice(0, 10000), { fin: false });
      await s.sendFrame(OP.CONTINUATION, text.slice(10000));
    },
    outcome: { close: 1009 },
  },
  {
    // RFC 6455 §8.1 says fail the connection, and 1007 is the code for it;
    // Deno 2.9 fails it without sending any close frame.
    name:
      "invalid UTF-8 in a text frame drops the TCP connection without a close frame",
    send: (s) =>
      s.sendFrame(OP.TEXT, new Uint8Array([0x22, 0xc3, 0x28, 0xff, 0x22])),
    outcome: { eof: true },
  },
  {
    // 1005 means "no code" and must never be on the wire (§7.4.1).
    name: "a close frame carrying 1005 is answered with 1002",
    send: (s) => s.sendFrame(OP.CLOSE, closePayload(1005)),
    outcome: { close: 1002 },
  },
  {
    name: "a close frame with a one-byte payload drops the TCP connection",
    send: (s) => s.sendFrame(OP.CLOSE, new Uint8Array([0x03])),
    outcome: { eof: true },
  },
  {
    // RFC 6455 §5.1 says a server must close on an unmasked client frame;
    // Deno 2.9 accepts it as an ordinary frame. Masking only defends
    // intermediaries against browser-scripted cache poisoning, and a
    // non-browser client picks its own mask anyway, so nothing in the room is
    // at risk; the app has no option to refuse it.
    name: "an unmasked client frame is accepted by Deno (no 1002)",
    send: (s) =>
      s.sendFrame(
        OP.TEXT,
        JSON.stringify({ type: "message", text: "unmasked" }),
        { mask: false },
      ),
    outcome: { delivered: "unmasked" },
  },
  {
    name: "a frame with a reserved bit set drops the TCP connection",
    send: (s) => s.write(new Uint8Array([0xc1, 0x80, 1, 2, 3, 4])),
    outcome: { eof: true },
  },
  {
    name: "a reserved opcode drops the TCP connection",
    send: (s) => s.write(new Uint8Array([0x83, 0x80, 1, 2, 3, 4])),
    outcome: { eof: true },
  },
  {
    name:
      "a continuation frame with nothing to continue drops the TCP connection",
    send: (s) => s.sendFrame(OP.CONTINUATION, "{}"),
    outcome: { eof: true },
  },
  {
    name: "a ping with more than 125 bytes drops the TCP connection",
    send: (s) => s.sendFrame(OP.PING, new Uint8Array(126)),
    outcome: { eof: true },
  },
  {
    // Above 64 MiB Deno refuses a frame from its header alone.
    name: "a frame header announcing 1 TiB drops the TCP connection",
    send: (s) => {
      const header = new Uint8Array(14);
      header[0] = 0x81;
      header[1] = 0x80 | 127;
      new DataView(header.buffer).setBigUint64(2, 2n ** 40n);
      return s.write(header);
    },
    outcome: { eof: true },
  },
  // The frames that change a message: a malformed one is refused before any
  // lookup, and reaches nobody.
  ...[
    { type: "edit", target: 1, text: "x", extra: true },
    { type: "edit", target: "1", text: "x" },
    { type: "delete", target: 1.5 },
    { type: "delete", target: 1, text: "x" },
    { type: "react", target: 0, emoji: "👍" },
    { type: "react", target: 1, emoji: "👍👍" },
    { type: "react", target: 1 },
    { type: "message", text: "a reply", replyTo: -1 },
  ].map((frame): Case => ({
    name: `the malformed frame ${JSON.stringify(frame)} gets bad_request`,
    send: (s) => s.send(frame),
    outcome: { error: "bad_request" },
  })),
];

/** What the client saw at the end: a close frame's code, EOF, or still open. */
async function observe(socket: RawSocket, outcome: Outcome): Promise<void> {
  if ("close" in outcome || "eof" in outcome) {
    const result = await socket.waitForClose(3000);
    assert.deepEqual(
      {
        kind: result.kind,
        code: result.kind === "close" ? result.code : undefined,
      },
      "close" in outcome
        ? { kind: "close", code: outcome.close }
        : { kind: "eof", code: undefined },
    );
    // Whatever the code, the server then ends the TCP connection.
    await socket.waitForEof(3000);
    return;
  }
  if ("error" in outcome) {
    const error = await socket.waitFor((e) => e.type === "error");
    assert.equal(error.code, outcome.error);
  } else {
    await socket.waitFor((e) =>
      e.type === "message" && e.text === outcome.delivered
    );
  }
  // Still open: a normal frame gets through and a clean close is echoed.
  await socket.send({ type: "message", text: "still open" });
  await socket.waitFor((e) => e.type === "message" && e.text === "still open");
  await socket.sendFrame(OP.CLOSE, closePayload(1000));
  assert.deepEqual(await socket.waitForClose(3000), {
    kind: "close",
    code: 1000,
    reason: "",
  });
  await socket.waitForEof(3000);
}

Deno.test("raw frames end only the offending socket, with the code Deno really sends", async (t) => {
  // The watcher posts a barrier per case; the default burst of 10 would refuse some.
  await using server = await startServer({ RATE_BURST: "1000" });
  const watcher = await server.join("watcher");
  const peer = await server.join("peer");
  for (const [i, c] of cases.entries()) {
    await t.step(c.name, async () => {
      const nickname = `bad${i}`;
      {
        using socket = await RawSocket.join(server, {
          cookie: await loginOk(server, nickname),
        });
        await watcher.waitForNotice("join", nickname);
        await c.send(socket);
        await observe(socket, c.outcome);
      }

      await eventually(
        async () => (await healthz(server)).body.connections === 2,
        { what: "the bad socket to be counted out" },
      );
      const health = await healthz(server);
      assert.equal(health.status, 200);
      assert.equal(health.body.users, 2);

      // The room is ordered: once the barrier is back, nothing else is coming.
      await barrier(watcher, [watcher, peer]);
      const expected = "delivered" in c.outcome
        ? [c.outcome.delivered, "still open"]
        : "error" in c.outcome
        ? ["still open"]
        : [];
      assert.deepEqual(texts(watcher.events, nickname), expected);
      assert.deepEqual(
        peer.events.filter((e) => e.nickname === nickname).map((e) => e.type),
        ["join", ...expected.map(() => "message"), "leave"],
      );
    });
  }
  assert.equal(watcher.socket.readyState, WebSocket.OPEN);
  assert.equal(peer.socket.readyState, WebSocket.OPEN);
});

Deno.test("raw frames of an unfinished fragmented message are buffered by Deno past MAX_FRAME_BYTES", async () => {
  // Pinned platform gap, not the app's choice: Deno reassembles fragments
  // with no cap on the total, and the app only sees finished messages, so
  // MAX_FRAME_BYTES cannot stop a client that never sends the last fragment.
  // 4 MiB here is 256 times the limit; the same growth continues to hundreds
  // of MiB. If this starts failing because Deno closed the socket, Deno has
  // gained a cap: assert its close code instead.
  await using server = await startServer();
  const watcher = await server.join("watcher");
  {
    using socket = await RawSocket.join(server, {
      cookie: await loginOk(server, "hoarder"),
    });
    const piece = "x".repeat(64 * 1024);
    await socket.sendFrame(OP.TEXT, piece, { fin: false });
    for (let i = 1; i < 64; i++) {
      await socket.sendFrame(OP.CONTINUATION, piece, { fin: false });
    }
    // A ping is answered between fragments, so the server has read them all.
    await socket.sendFrame(OP.PING, "after 4 MiB");
    // The welcome was the first frame; skip to the pong.
    let frame = await socket.nextFrame(3000);
    while (frame && frame.opcode !== OP.PONG) {
      frame = await socket.nextFrame(3000);
    }
    assert.equal(frame?.opcode, OP.PONG);
    assert.equal(socket.eof, false);
    assert.equal((await healthz(server)).body.connections, 2);
  }
  await watcher.waitForNotice("leave", "hoarder");
});
