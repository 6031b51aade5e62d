/**
 * A minimal RFC 6455 client over `Deno.connect`: the frame encoder, the
 * incremental frame parser and the HTTP upgrade, shared by the load process
 * (`BenchSocket`, below) and the tests' hand-made sockets
 * (tests/helpers/raw_ws.ts, which builds on this module so that the bench
 * never depends on the test tree).
 *
 * Why not the built-in `WebSocket` for the load: it turns every frame into a
 * JS string and dispatches one event per frame, which on one core caps the
 * load process well below what the servers can send (the baseline sends one
 * frame per delivery). Here one `read` takes whatever the kernel has
 * buffered, frames are parsed in place and text payloads are handed over as
 * byte ranges, so the load can scan for its tags without decoding.
 *
 * @module
 */

/** Called with one complete text message as the byte range [start, end) of `data`. */
export type TextHandler = (
  data: Uint8Array,
  start: number,
  end: number,
) => void;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const EMPTY = new Uint8Array(0);

// Reads smaller than this are followed by the pace; see ConnectOptions.pace.
const PACE_BELOW_BYTES = 8192;

/** Frame opcodes (RFC 6455 §5.2). */
export const OP = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/**
 * An all-zero masking key. RFC 6455 permits it (the server unmasks with
 * whatever key is sent) and it leaves the payload untouched, so the load
 * process spends no per-byte XOR. The key's unpredictability only matters for
 * intermediaries, and there are none on loopback.
 */
export const ZERO_KEY: Uint8Array = new Uint8Array(4);

/** How {@linkcode encodeFrame} builds a frame; every default is what RFC 6455 requires of a client. */
export interface FrameOptions {
  /** The FIN bit; false starts or continues a fragmented message. */
  fin?: boolean;
  /**
   * The masking key: true (the default) for a random one, a 4-byte key such
   * as {@linkcode ZERO_KEY}, or false for an unmasked frame, which is what a
   * server sends and a protocol violation from a client.
   */
  mask?: boolean | Uint8Array;
}

/** Encodes one frame. */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array | string = EMPTY,
  options: FrameOptions = {},
): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const mask = options.mask ?? true;
  const key = mask === true
    ? crypto.getRandomValues(new Uint8Array(4))
    : mask || undefined;
  const n = body.length;
  const lengthBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const header = 2 + lengthBytes + (key ? 4 : 0);
  const frame = new Uint8Array(header + n);
  frame[0] = ((options.fin ?? true) ? 0x80 : 0) | opcode;
  frame[1] = (key ? 0x80 : 0) | (n < 126 ? n : n < 65536 ? 126 : 127);
  if (lengthBytes === 2) {
    frame[2] = n >>> 8;
    frame[3] = n & 0xff;
  } else if (lengthBytes === 8) {
    new DataView(frame.buffer).setBigUint64(2, BigInt(n));
  }
  frame.set(body, header);
  if (key) {
    frame.set(key, header - 4);
    if (key[0] | key[1] | key[2] | key[3]) {
      xorMask(frame, header - 4, header, header + n);
    }
  }
  return frame;
}

/** Encodes one client text frame, masked with {@linkcode ZERO_KEY}. */
export function encodeTextFrame(text: string): Uint8Array {
  return encodeFrame(OP.TEXT, text, { mask: ZERO_KEY });
}

/** A close frame's payload: the code in network order, then the reason. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = encoder.encode(reason);
  const out = new Uint8Array(2 + text.length);
  new DataView(out.buffer).setUint16(0, code);
  out.set(text, 2);
  return out;
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
 * `space()`; then either `next()` takes one frame at a time, or `parse()`
 * hands over every complete message. A partial frame stays for the next read.
 */
export class FrameParser {
  /** The receive buffer; valid bytes are [start, end). */
  buf: Uint8Array;
  /** First unparsed byte. */
  start = 0;
  /** One past the last received byte. */
  end = 0;
  /** The FIN bit of the frame `next()` took. */
  fin = false;
  /** The opcode of the frame `next()` took. */
  opcode = 0;
  /** Where the payload of the frame `next()` took starts in `buf`. */
  from = 0;
  /** One past the end of that payload. */
  to = 0;
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

  /**
   * Takes the next complete frame, unmasked in place: true, with `fin`,
   * `opcode` and the payload `buf[from, to)` set until the next call to
   * `next`, `space` or `push`; false while no whole frame is buffered.
   */
  next(): boolean {
    const buf = this.buf;
    const p = this.start;
    const available = this.end - p;
    if (available < 2) return false;
    const b1 = buf[p + 1];
    let len = b1 & 0x7f;
    let header = 2;
    if (len === 126) {
      if (available < 4) return false;
      len = (buf[p + 2] << 8) | buf[p + 3];
      header = 4;
    } else if (len === 127) {
      if (available < 10) return false;
      const view = new DataView(buf.buffer, buf.byteOffset + p + 2, 8);
      len = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
      header = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) header += 4;
    if (available < header + len) {
      // Make sure the next read has room for the rest of this frame.
      this.space(header + len - available);
      return false;
    }
    this.fin = (buf[p] & 0x80) !== 0;
    this.opcode = buf[p] & 0x0f;
    this.from = p + header;
    this.to = this.from + len;
    if (masked) xorMask(buf, this.from - 4, this.from, this.to);
    this.start = this.to;
    // The payload stays where it is until the next read writes over it.
    if (this.start === this.end) this.start = this.end = 0;
    return true;
  }

  /** Parses every complete frame; text messages go to `onText`, pings and closes to `control`. */
  parse(onText: TextHandler, control: ControlSink): void {
    while (this.next()) {
      const { buf, fin, opcode: op, from, to } = this;
      if (op === OP.TEXT || op === OP.BINARY) {
        if (fin) {
          if (op === OP.TEXT) onText(buf, from, to);
        } else {
          this.#fragments = [buf.slice(from, to)];
          this.#fragmentOp = op;
        }
      } else if (op === OP.CONTINUATION && this.#fragments) {
        this.#fragments.push(buf.slice(from, to));
        if (fin) {
          const whole = concat(this.#fragments);
          this.#fragments = null;
          if (this.#fragmentOp === OP.TEXT) onText(whole, 0, whole.length);
        }
      } else if (op === OP.PING) {
        control.ping(buf.slice(from, to));
      } else if (op === OP.CLOSE) {
        control.close();
      }
      // Pongs and stray continuations need nothing.
    }
  }
}

/** XORs buf[from, to) with the 4-byte key at `keyAt`: masks and unmasks alike. */
function xorMask(buf: Uint8Array, keyAt: number, from: number, to: number) {
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

/** Writes every byte, however many writes it takes. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/** The Sec-WebSocket-Accept a server must answer `key` with. */
export async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + GUID),
  );
  return base64(new Uint8Array(digest));
}

/** Where and how to open a WebSocket. */
export interface UpgradeRequest {
  /** Server address. */
  hostname: string;
  /** Server port. */
  port: number;
  /** Request path, e.g. `/ws/bench`. */
  path: string;
  /** `Cookie` header value, if any. */
  cookie?: string;
  /** Extra request headers, such as Origin. */
  headers?: Record<string, string>;
}

/** The server's answer to the upgrade request. */
export interface UpgradeResponse {
  status: number;
  headers: Headers;
}

/** A connection after its upgrade: open on 101, already closed otherwise. */
export interface Upgraded {
  conn: Deno.TcpConn;
  /** Holds whatever the server sent after the 101 headers. */
  parser: FrameParser;
  response: UpgradeResponse;
}

/**
 * Connects and sends the HTTP upgrade. On 101 (with the right
 * Sec-WebSocket-Accept) the connection is returned without reading anything
 * past the response head, so a caller can make a peer that never reads; any
 * other status closes it.
 */
export async function connectWebSocket(
  request: UpgradeRequest,
  parser: FrameParser = new FrameParser(),
): Promise<Upgraded> {
  const conn = await Deno.connect({
    hostname: request.hostname,
    port: request.port,
  });
  try {
    // Small frames must leave at once, or Nagle adds its delay to every latency.
    conn.setNoDelay(true);
    const key = base64(crypto.getRandomValues(new Uint8Array(16)));
    const lines = [
      `GET ${request.path} HTTP/1.1`,
      `Host: ${request.hostname}:${request.port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
    ];
    if (request.cookie) lines.push(`Cookie: ${request.cookie}`);
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      lines.push(`${name}: ${value}`);
    }
    await writeAll(conn, encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
    let headEnd = -1;
    while (headEnd < 0) {
      const n = await conn.read(parser.space());
      if (n === null) {
        throw new Error("connection closed during the WebSocket handshake");
      }
      parser.end += n;
      headEnd = indexOfHeadEnd(parser.buf, parser.start, parser.end);
    }
    const [statusLine, ...headerLines] = decoder.decode(
      parser.buf.subarray(parser.start, headEnd),
    ).split("\r\n");
    parser.start = headEnd + 4;
    const status = Number(statusLine.split(" ")[1]);
    const headers = new Headers();
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    if (status !== 101) {
      conn.close();
    } else if (headers.get("sec-websocket-accept") !== await acceptFor(key)) {
      throw new Error("bad Sec-WebSocket-Accept in the 101 response");
    }
    return { conn, parser, response: { status, headers } };
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
}

/** Closes a connection that may be closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function indexOfHeadEnd(buf: Uint8Array, start: number, end: number): number {
  for (let i = start; i + 3 < end; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** Options for `BenchSocket.connect`. */
export interface ConnectOptions extends UpgradeRequest {
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

/** One client WebSocket connection of the load process. */
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

  private constructor(upgraded: Upgraded, options: ConnectOptions) {
    this.conn = upgraded.conn;
    this.#parser = upgraded.parser;
    this.#onText = options.onText;
    this.#onClose = options.onClose;
    this.#pace = options.pace;
  }

  /** Opens the TCP connection, performs the HTTP upgrade and starts reading. */
  static async connect(options: ConnectOptions): Promise<BenchSocket> {
    const upgraded = await connectWebSocket(options);
    if (upgraded.response.status !== 101) {
      throw new Error(
        `WebSocket upgrade refused with ${upgraded.response.status}`,
      );
    }
    const socket = new BenchSocket(upgraded, options);
    socket.#readLoop();
    return socket;
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
    this.send(encodeFrame(OP.CLOSE, EMPTY, { mask: ZERO_KEY }));
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
      ping: (payload) =>
        this.send(encodeFrame(OP.PONG, payload, { mask: ZERO_KEY })),
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
    closeQuietly(this.conn);
    this.#onClose?.();
  }
}
