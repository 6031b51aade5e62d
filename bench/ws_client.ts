/**
 * A minimal RFC 6455 client over `Deno.connect` for the load process.
 *
 * Why not the built-in `WebSocket`: it turns every frame into a JS string and
 * dispatches one event per frame, which on one core caps the load process
 * well below what the servers can send (the baseline sends one frame per
 * delivery). Here one `read` takes whatever the kernel has buffered, frames
 * are parsed in place and text payloads are handed over as byte ranges, so the
 * load can scan for its tags without decoding.
 */

/** Called with one complete text message as the byte range [start, end) of `data`. */
export type TextHandler = (
  data: Uint8Array,
  start: number,
  end: number,
) => void;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Reads smaller than this are followed by the pace; see ConnectOptions.pace.
const PACE_BELOW_BYTES = 8192;

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/**
 * Encodes one client frame. The masking key is all zeros, which RFC 6455
 * permits (the server unmasks with whatever key is sent) and which leaves the
 * payload untouched, so no per-byte XOR is spent in the load process. The
 * key's unpredictability only matters for intermediaries, and there are none
 * on loopback.
 */
export function encodeFrame(payload: Uint8Array, opcode = OP_TEXT): Uint8Array {
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = new Uint8Array(header + 4 + n);
  frame[0] = 0x80 | opcode;
  if (n < 126) {
    frame[1] = 0x80 | n;
  } else if (n < 65536) {
    frame[1] = 0x80 | 126;
    frame[2] = n >>> 8;
    frame[3] = n & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setUint32(6, n);
  }
  frame.set(payload, header + 4);
  return frame;
}

/** Encodes one client text frame. */
export function encodeTextFrame(text: string): Uint8Array {
  return encodeFrame(encoder.encode(text));
}

/** Control frames the parser saw that the socket must answer. */
export interface ControlSink {
  /** A ping with its payload. */
  ping(payload: Uint8Array): void;
  /** A close frame. */
  close(): void;
}

/**
 * Incremental parser of server-to-client frames. Bytes are read straight into
 * `space()`, then `parse()` hands over every complete message and keeps any
 * partial frame for the next read.
 */
export class FrameParser {
  /** The receive buffer; valid bytes are [start, end). */
  buf: Uint8Array;
  /** First unparsed byte. */
  start = 0;
  /** One past the last received byte. */
  end = 0;
  #fragments: Uint8Array[] | null = null;
  #fragmentOp = 0;

  /** Starts with a small buffer; it grows when frames or reads need more. */
  constructor(initialSize = 4096) {
    this.buf = new Uint8Array(initialSize);
  }

  /** Free space to read into, at least `min` bytes, compacting or growing the buffer first. */
  space(min = 2048): Uint8Array {
    if (this.buf.length - this.end < min) {
      const used = this.end - this.start;
      if (this.start > 0 && this.buf.length - used >= min) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const next = new Uint8Array(Math.max(this.buf.length * 2, used + min));
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      this.start = 0;
      this.end = used;
    }
    return this.buf.subarray(this.end);
  }

  /** Appends bytes (for tests and for the bytes that followed the HTTP 101 headers). */
  push(bytes: Uint8Array): void {
    this.space(bytes.length).set(bytes);
    this.end += bytes.length;
  }

  /** Parses every complete frame; text messages go to `onText`, pings and closes to `control`. */
  parse(onText: TextHandler, control: ControlSink): void {
    const buf = this.buf;
    let p = this.start;
    const end = this.end;
    while (end - p >= 2) {
      const b0 = buf[p];
      const b1 = buf[p + 1];
      let len = b1 & 0x7f;
      let header = 2;
      if (len === 126) {
        if (end - p < 4) break;
        len = (buf[p + 2] << 8) | buf[p + 3];
        header = 4;
      } else if (len === 127) {
        if (end - p < 10) break;
        const view = new DataView(buf.buffer, buf.byteOffset + p + 2, 8);
        len = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
        header = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) header += 4;
      if (end - p < header + len) {
        this.start = p;
        // Make sure the next read has room for the rest of this frame.
        this.space(header + len - (end - p));
        return;
      }
      const from = p + header;
      const to = from + len;
      if (masked) unmask(buf, p + header - 4, from, to);
      const fin = (b0 & 0x80) !== 0;
      const op = b0 & 0x0f;
      if (op === OP_TEXT || op === OP_BINARY) {
        if (fin) {
          if (op === OP_TEXT) onText(buf, from, to);
        } else {
          this.#fragments = [buf.slice(from, to)];
          this.#fragmentOp = op;
        }
      } else if (op === OP_CONTINUATION && this.#fragments) {
        this.#fragments.push(buf.slice(from, to));
        if (fin) {
          const whole = concat(this.#fragments);
          this.#fragments = null;
          if (this.#fragmentOp === OP_TEXT) onText(whole, 0, whole.length);
        }
      } else if (op === OP_PING) {
        control.ping(buf.slice(from, to));
      } else if (op === OP_CLOSE) {
        control.close();
      }
      // Pongs and stray continuations need nothing.
      p = to;
    }
    this.start = p;
    if (p === end) this.start = this.end = 0;
  }
}

function unmask(buf: Uint8Array, keyAt: number, from: number, to: number) {
  for (let i = from; i < to; i++) buf[i] ^= buf[keyAt + ((i - from) & 3)];
}

/** Concatenates byte arrays into one. */
export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const part of parts) n += part.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Options for `BenchSocket.connect`. */
export interface ConnectOptions {
  /** Server address. */
  hostname: string;
  /** Server port. */
  port: number;
  /** Request path, e.g. `/ws/bench`. */
  path: string;
  /** `Cookie` header value, if any. */
  cookie?: string;
  /** Receives every text message. */
  onText: TextHandler;
  /** Called once when the connection ends for any reason. */
  onClose?: () => void;
  /**
   * Awaited after each small read before the next one. Pacing reads lets the
   * kernel gather several frames per read, which cuts the load's per-read
   * cost at the price of timestamps up to one pace late.
   */
  pace?: () => Promise<void>;
}

/** One client WebSocket connection. */
export class BenchSocket {
  /** The TCP connection. */
  readonly conn: Deno.TcpConn;
  /** Whether the connection has ended. */
  closed = false;
  #parser: FrameParser;
  #onText: TextHandler;
  #onClose?: () => void;
  #pace?: () => Promise<void>;
  #queue: Uint8Array[] = [];
  #writing = false;

  private constructor(
    conn: Deno.TcpConn,
    parser: FrameParser,
    options: ConnectOptions,
  ) {
    this.conn = conn;
    this.#parser = parser;
    this.#onText = options.onText;
    this.#onClose = options.onClose;
    this.#pace = options.pace;
  }

  /** Opens the TCP connection, performs the HTTP upgrade and starts reading. */
  static async connect(options: ConnectOptions): Promise<BenchSocket> {
    const conn = await Deno.connect({
      hostname: options.hostname,
      port: options.port,
    });
    try {
      // Small frames must leave at once, or Nagle adds its delay to every latency.
      conn.setNoDelay(true);
      const key = btoa(
        String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
      );
      const lines = [
        `GET ${options.path} HTTP/1.1`,
        `Host: ${options.hostname}:${options.port}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${key}`,
        "Sec-WebSocket-Version: 13",
      ];
      if (options.cookie) lines.push(`Cookie: ${options.cookie}`);
      await writeAll(conn, encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
      const parser = new FrameParser();
      let headerEnd = -1;
      while (headerEnd < 0) {
        const n = await conn.read(parser.space());
        if (n === null) {
          throw new Error("connection closed during the WebSocket handshake");
        }
        parser.end += n;
        headerEnd = indexOfHeaderEnd(parser.buf, parser.end);
      }
      const head = decoder.decode(parser.buf.subarray(0, headerEnd));
      const status = head.slice(0, head.indexOf("\r\n"));
      // Sec-WebSocket-Accept is not checked: the peer is our own server on
      // loopback, and a wrong upgrade shows up as missing deliveries anyway.
      if (!/^HTTP\/1\.1 101\b/.test(status)) {
        throw new Error(`WebSocket upgrade refused: ${status}`);
      }
      parser.start = headerEnd + 4;
      const socket = new BenchSocket(conn, parser, options);
      socket.#readLoop();
      return socket;
    } catch (err) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      throw err;
    }
  }

  /** Queues an encoded frame; frames queued while a write is pending go out together. */
  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.#queue.push(frame);
    if (!this.#writing) this.#pump();
  }

  /** Sends a close frame and ends the connection. */
  close(): void {
    if (this.closed) return;
    this.send(encodeFrame(new Uint8Array(0), OP_CLOSE));
    // Give the close frame a moment to leave, then drop the connection.
    setTimeout(() => this.#end(), 50);
  }

  async #pump() {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.closed) {
        const chunk = this.#queue.length === 1
          ? this.#queue[0]
          : concat(this.#queue);
        this.#queue = [];
        await writeAll(this.conn, chunk);
      }
    } catch {
      this.#end();
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop() {
    const parser = this.#parser;
    const control: ControlSink = {
      ping: (payload) => this.send(encodeFrame(payload, OP_PONG)),
      close: () => this.#end(),
    };
    try {
      parser.parse(this.#onText, control);
      while (!this.closed) {
        const n = await this.conn.read(parser.space());
        if (n === null) break;
        parser.end += n;
        parser.parse(this.#onText, control);
        // A big read means the socket is busy: pausing it would let its
        // receive window fill and push the backlog into the server.
        if (this.#pace && n < PACE_BELOW_BYTES) await this.#pace();
      }
    } catch {
      // A reset or a local close ends the loop like EOF does.
    }
    this.#end();
  }

  #end() {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    this.#onClose?.();
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function indexOfHeaderEnd(buf: Uint8Array, end: number): number {
  for (let i = 0; i + 3 < end; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) return i;
  }
  return -1;
}
