/**
 * A deliberately small WebSocket client over `Deno.connect` for tests that
 * need what a real client never sends: hand-built frames (unmasked, bad
 * UTF-8, forbidden close codes), a peer that never reads, a peer that never
 * answers pings, and a TCP connection dropped without a close frame.
 *
 * @module
 */

/** Frame opcodes (RFC 6455 §5.2). */
export const OP = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** One frame as the server sent it. */
export interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** How {@linkcode encodeFrame} builds a frame; every default is what RFC 6455 requires of a client. */
export interface FrameOptions {
  /** The FIN bit; false starts or continues a fragmented message. */
  fin?: boolean;
  /** Whether to mask; clients must, so false makes a protocol violation. */
  mask?: boolean;
}

/** How a socket's life ended, from the client's side. */
export type CloseResult =
  | { kind: "close"; code: number; reason: string }
  | { kind: "eof" };

/** The answer to a hand-made upgrade request. */
export interface UpgradeResponse {
  status: number;
  headers: Headers;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** The Sec-WebSocket-Accept a server must answer `key` with. */
export async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + GUID),
  );
  return base64(new Uint8Array(digest));
}

/** Encodes one client-to-server frame. */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: FrameOptions = {},
): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const mask = options.mask ?? true;
  const n = body.length;
  const lengthBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const header = 2 + lengthBytes + (mask ? 4 : 0);
  const frame = new Uint8Array(header + n);
  frame[0] = ((options.fin ?? true) ? 0x80 : 0) | opcode;
  frame[1] = (mask ? 0x80 : 0) | (n < 126 ? n : n < 65536 ? 126 : 127);
  const view = new DataView(frame.buffer);
  if (lengthBytes === 2) view.setUint16(2, n);
  if (lengthBytes === 8) view.setBigUint64(2, BigInt(n));
  if (mask) {
    const key = crypto.getRandomValues(new Uint8Array(4));
    frame.set(key, 2 + lengthBytes);
    for (let i = 0; i < n; i++) frame[header + i] = body[i] ^ key[i & 3];
  } else {
    frame.set(body, header);
  }
  return frame;
}

/** A close frame's payload: the code in network order, then the reason. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = encoder.encode(reason);
  const out = new Uint8Array(2 + text.length);
  new DataView(out.buffer).setUint16(0, code);
  out.set(text, 2);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 &&
      bytes[i - 3] === 13
    ) return i + 1;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

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

// deno-lint-ignore no-explicit-any
type Event = any;

/** A WebSocket connection driven frame by frame. */
export class RawSocket {
  readonly conn: Deno.Conn;
  readonly answerPings: boolean;
  /** Every frame read so far, in order; pings included. */
  readonly frames: RawFrame[] = [];
  /** Parsed chat events from text frames, batches unpacked. */
  readonly events: Event[] = [];
  #pending: Uint8Array;
  #pumping = false;
  #eof = false;
  #closed = false;
  #taken = 0;
  #waiters: (() => void)[] = [];

  private constructor(conn: Deno.Conn, rest: Uint8Array, answerPings: boolean) {
    this.conn = conn;
    this.#pending = rest;
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
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    try {
      const key = base64(crypto.getRandomValues(new Uint8Array(16)));
      const lines = [
        `GET ${options.path ?? "/ws"} HTTP/1.1`,
        `Host: 127.0.0.1:${server.port}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${key}`,
        "Sec-WebSocket-Version: 13",
      ];
      if (options.cookie) lines.push(`Cookie: ${options.cookie}`);
      for (const [name, value] of Object.entries(options.headers ?? {})) {
        lines.push(`${name}: ${value}`);
      }
      await writeAll(conn, encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
      let head: Uint8Array = new Uint8Array(0);
      let end = -1;
      const chunk = new Uint8Array(4096);
      while (end < 0) {
        const n = await conn.read(chunk);
        if (n === null) throw new Error("Connection closed during the upgrade");
        head = concat(head, chunk.subarray(0, n));
        end = indexOfHeadEnd(head);
      }
      const [statusLine, ...headerLines] = decoder.decode(head.subarray(0, end))
        .trimEnd().split("\r\n");
      const status = Number(statusLine.split(" ")[1]);
      const headers = new Headers();
      for (const line of headerLines) {
        const colon = line.indexOf(":");
        headers.append(
          line.slice(0, colon).trim(),
          line.slice(colon + 1).trim(),
        );
      }
      const response = { status, headers };
      if (status !== 101) {
        conn.close();
        return { response };
      }
      if (headers.get("sec-websocket-accept") !== await acceptFor(key)) {
        throw new Error("Bad Sec-WebSocket-Accept in the 101 response");
      }
      const socket = new RawSocket(
        conn,
        head.slice(end),
        options.answerPings ?? true,
      );
      return { response, socket };
    } catch (err) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      throw err;
    }
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
      const chunk = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await this.conn.read(chunk);
          if (n === null) break;
          this.#pending = concat(this.#pending, chunk.subarray(0, n));
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
    for (;;) {
      const buf = this.#pending;
      if (buf.length < 2) break;
      const masked = (buf[1] & 0x80) !== 0;
      let length = buf[1] & 0x7f;
      let offset = 2;
      const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
      if (length === 126) {
        if (buf.length < 4) break;
        length = view.getUint16(2);
        offset = 4;
      } else if (length === 127) {
        if (buf.length < 10) break;
        length = Number(view.getBigUint64(2));
        offset = 10;
      }
      const keyAt = offset;
      if (masked) offset += 4;
      if (buf.length < offset + length) break;
      const payload = buf.slice(offset, offset + length);
      if (masked) {
        for (let i = 0; i < length; i++) payload[i] ^= buf[keyAt + (i & 3)];
      }
      this.#pending = buf.subarray(offset + length);
      const frame = {
        fin: (buf[0] & 0x80) !== 0,
        opcode: buf[0] & 0x0f,
        payload,
      };
      this.frames.push(frame);
      if (frame.opcode === OP.PING && this.answerPings) {
        this.sendFrame(OP.PONG, payload).catch(() => {});
      }
      if (frame.opcode === OP.TEXT) {
        const parsed = JSON.parse(decoder.decode(payload));
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
  waitFor(match: (event: Event) => boolean, timeoutMs = 5000): Promise<Event> {
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
    try {
      this.conn.close();
    } catch {
      // Already closed by the pump's error path.
    }
  }
}
