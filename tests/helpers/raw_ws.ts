/**
 * A deliberately small WebSocket client over `Deno.connect` for tests that
 * need what a real client never sends: hand-built frames (unmasked, bad
 * UTF-8, forbidden close codes), a peer that never reads, a peer that never
 * answers pings, and a TCP connection dropped without a close frame.
 *
 * The frame encoder, parser and handshake are bench/ws_client.ts's, which the
 * load process uses too; this module adds what a test needs on top: every
 * frame kept, chat events parsed, and waits with timeouts.
 *
 * @module
 */
import {
  closeQuietly,
  connectWebSocket,
  encodeFrame,
  type FrameOptions,
  FrameParser,
  OP,
  type UpgradeResponse,
  writeAll,
} from "../../bench/ws_client.ts";
import type { ServerEvent } from "./harness.ts";

export {
  closePayload,
  concat,
  encodeFrame,
  OP,
} from "../../bench/ws_client.ts";
export type { FrameOptions, UpgradeResponse } from "../../bench/ws_client.ts";

/** One frame as the server sent it. */
export interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** How a socket's life ended, from the client's side. */
export type CloseResult =
  | { kind: "close"; code: number; reason: string }
  | { kind: "eof" };

const decoder = new TextDecoder();

/** Options for a hand-made upgrade. */
export interface RawUpgradeOptions {
  cookie?: string;
  /** The request path; `/ws` (the lobby) by default. */
  path?: string;
  /** Extra request headers, such as Origin. */
  headers?: Record<string, string>;
  /** Whether to answer pings; false makes a peer that the idle timeout should drop. */
  answerPings?: boolean;
}

/** A WebSocket connection driven frame by frame. */
export class RawSocket {
  readonly conn: Deno.Conn;
  readonly answerPings: boolean;
  /** Every frame read so far, in order; pings included. */
  readonly frames: RawFrame[] = [];
  /** Parsed chat events from text frames, batches unpacked. */
  readonly events: ServerEvent[] = [];
  #parser: FrameParser;
  #pumping = false;
  #eof = false;
  #closed = false;
  #taken = 0;
  #waiters: (() => void)[] = [];

  private constructor(
    conn: Deno.Conn,
    parser: FrameParser,
    answerPings: boolean,
  ) {
    this.conn = conn;
    this.#parser = parser;
    this.answerPings = answerPings;
  }

  /**
   * Sends an upgrade request by hand. On 101 the socket is returned without
   * reading anything further, so a caller can make a peer that never reads.
   */
  static async upgrade(
    server: { port: number },
    options: RawUpgradeOptions = {},
  ): Promise<{ response: UpgradeResponse; socket?: RawSocket }> {
    // Reads of up to 64 KiB, so draining megabytes a slow peer left unread is quick.
    const { conn, parser, response } = await connectWebSocket({
      hostname: "127.0.0.1",
      port: server.port,
      path: options.path ?? "/ws",
      cookie: options.cookie,
      headers: options.headers,
    }, new FrameParser(64 * 1024));
    if (response.status !== 101) return { response };
    const socket = new RawSocket(conn, parser, options.answerPings ?? true);
    return { response, socket };
  }

  /** Upgrades and fails unless the server switched protocols. */
  static async open(
    server: { port: number },
    options: RawUpgradeOptions = {},
  ): Promise<RawSocket> {
    const { response, socket } = await RawSocket.upgrade(server, options);
    if (!socket) throw new Error(`Upgrade refused with ${response.status}`);
    return socket;
  }

  /** Opens a socket and waits for its welcome frame. */
  static async join(
    server: { port: number },
    options: RawUpgradeOptions = {},
  ): Promise<RawSocket> {
    const socket = await RawSocket.open(server, options);
    await socket.waitFor((e) => e.type === "welcome");
    return socket;
  }

  /** Whether the server has closed the TCP connection (or it failed). */
  get eof(): boolean {
    return this.#eof;
  }

  /** Writes bytes as they are. */
  async write(bytes: Uint8Array): Promise<void> {
    await writeAll(this.conn, bytes);
  }

  /** Sends one frame built by {@linkcode encodeFrame}. */
  sendFrame(
    opcode: number,
    payload?: Uint8Array | string,
    options?: FrameOptions,
  ): Promise<void> {
    return this.write(encodeFrame(opcode, payload, options));
  }

  /** Sends a chat frame, as JSON unless it is already a string. */
  send(frame: unknown): Promise<void> {
    return this.sendFrame(
      OP.TEXT,
      typeof frame === "string" ? frame : JSON.stringify(frame),
    );
  }

  // Reading starts on first use, so a socket nobody reads from really never reads.
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    this.#parse();
    (async () => {
      const parser = this.#parser;
      try {
        for (;;) {
          const n = await this.conn.read(parser.space());
          if (n === null) break;
          parser.end += n;
          this.#parse();
        }
      } catch {
        // A reset or our own close ends reading the same way as EOF.
      }
      this.#eof = true;
      this.#wake();
    })();
  }

  #parse(): void {
    const parser = this.#parser;
    while (parser.next()) {
      const frame = {
        fin: parser.fin,
        opcode: parser.opcode,
        payload: parser.buf.slice(parser.from, parser.to),
      };
      this.frames.push(frame);
      if (frame.opcode === OP.PING && this.answerPings) {
        this.sendFrame(OP.PONG, frame.payload).catch(() => {});
      }
      if (frame.opcode === OP.TEXT) {
        const parsed = JSON.parse(decoder.decode(frame.payload));
        if (parsed.type === "batch") this.events.push(...parsed.events);
        else this.events.push(parsed);
      }
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  async #until<T>(
    found: () => T | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    this.#pump();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = found();
      if (value !== undefined) return value;
      if (this.#eof) throw new Error(`Connection ended before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for a chat event matching `match`. */
  waitFor(
    match: (event: ServerEvent) => boolean,
    timeoutMs = 5000,
  ): Promise<ServerEvent> {
    return this.#until(() => this.events.find(match), timeoutMs, "an event");
  }

  /** The next frame not yet taken by this method, or undefined at EOF. */
  async nextFrame(timeoutMs = 5000): Promise<RawFrame | undefined> {
    this.#pump();
    try {
      return await this.#until(
        () => this.frames[this.#taken] && this.frames[this.#taken++],
        timeoutMs,
        "a frame",
      );
    } catch (err) {
      if (this.#eof && this.#taken >= this.frames.length) return undefined;
      throw err;
    }
  }

  /**
   * Reads until the server's close frame or the end of the connection. On a
   * close frame the close is echoed, as RFC 6455 asks, so the server's close
   * handshake completes.
   */
  async waitForClose(timeoutMs = 5000): Promise<CloseResult> {
    for (;;) {
      const frame = await this.nextFrame(timeoutMs);
      if (!frame) return { kind: "eof" };
      if (frame.opcode !== OP.CLOSE) continue;
      const p = frame.payload;
      const code = p.length >= 2 ? (p[0] << 8) | p[1] : 1005;
      const reason = decoder.decode(p.subarray(2));
      await this.sendFrame(OP.CLOSE, p.subarray(0, 2)).catch(() => {});
      return { kind: "close", code, reason };
    }
  }

  /** Waits until the server ends the TCP connection. */
  async waitForEof(timeoutMs = 5000): Promise<void> {
    await this.#until(() => undefined, timeoutMs, "EOF").catch((err) => {
      if (!this.#eof) throw err;
    });
  }

  /** Drops the TCP connection at once, without a close frame. */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.conn);
  }

  /** `using` drops the connection, as {@linkcode abort} does. */
  [Symbol.dispose](): void {
    this.abort();
  }
}
