/**
 * The soak's client side of HTTP and WebSocket: every request carries an
 * `X-Forwarded-For` of its own, as a trusted proxy would add, so that one
 * machine can play fifty honest people and eight attackers. Built on
 * bench/ws_client.ts (the bench never imports from tests/).
 *
 * @module
 */
import {
  closeQuietly,
  connectWebSocket,
  encodeFrame,
  FrameParser,
  OP,
  writeAll,
  ZERO_KEY,
} from "./ws_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Where the server listens and who this client claims to be. */
export interface Peer {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /** The server's port. */
  port: number;
  /** This client's address, sent as X-Forwarded-For. */
  address: string;
}

/** Counts of what an attack (or the honest crowd) saw, by outcome. */
export type Tally = Record<string, number>;

/** Adds one to `key` of `tally`. */
export function bump(tally: Tally, key: string): void {
  tally[key] = (tally[key] ?? 0) + 1;
}

/** The outcome of a request that may not have reached the server. */
function failure(err: unknown): string {
  const text = String(err);
  return /refused|reset|os error 104|os error 111/i.test(text)
    ? "connect refused"
    : /timed? ?out|abort/i.test(text)
    ? "timed out"
    : "network error";
}

/** POSTs a form like the page does; the status, or why there was none. */
export async function postForm(
  peer: Peer,
  path: string,
  options: { cookie?: string; body?: Record<string, string> } = {},
): Promise<{ status: number | string; cookie: string }> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    origin: peer.origin,
    "x-forwarded-for": peer.address,
  };
  if (options.cookie) headers.cookie = options.cookie;
  try {
    const res = await fetch(`${peer.origin}${path}`, {
      method: "POST",
      headers,
      body: new URLSearchParams(options.body ?? {}),
      redirect: "manual",
      signal: AbortSignal.timeout(5000),
    });
    await res.body?.cancel();
    const setCookie = res.headers.get("set-cookie");
    return {
      status: res.status,
      cookie: setCookie ? setCookie.split(";")[0] : "",
    };
  } catch (err) {
    return { status: failure(err), cookie: "" };
  }
}

/** Logs in as `nickname`; the status and, on 303, the session cookie. */
export function login(
  peer: Peer,
  nickname: string,
): Promise<{ status: number | string; cookie: string }> {
  return postForm(peer, "/login", { body: { nickname } });
}

/** GETs a page with a cookie; its status, or why there was none. */
export async function getStatus(
  peer: Peer,
  path: string,
  cookie?: string,
): Promise<number | string> {
  const headers: Record<string, string> = { "x-forwarded-for": peer.address };
  if (cookie) headers.cookie = cookie;
  try {
    const res = await fetch(`${peer.origin}${path}`, {
      headers,
      redirect: "manual",
      signal: AbortSignal.timeout(5000),
    });
    await res.body?.cancel();
    return res.status;
  } catch (err) {
    return failure(err);
  }
}

/** Sends one HTTP/1.1 request by hand, so the Host header is ours; the status. */
export async function rawStatus(
  peer: Peer,
  request: { host: string; method?: string; path: string; body?: string },
): Promise<number | string> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port: peer.port });
  } catch (err) {
    return failure(err);
  }
  try {
    const body = request.body ?? "";
    const head = [
      `${request.method ?? "GET"} ${request.path} HTTP/1.1`,
      `Host: ${request.host}`,
      `Origin: http://${request.host}`,
      `X-Forwarded-For: ${peer.address}`,
      "Content-Type: application/x-www-form-urlencoded",
      `Content-Length: ${encoder.encode(body).length}`,
      "Connection: close",
    ];
    await writeAll(conn, encoder.encode(`${head.join("\r\n")}\r\n\r\n${body}`));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    if (n === null) return "eof";
    return Number(decoder.decode(buf.subarray(0, n)).split(" ")[1]);
  } catch (err) {
    return failure(err);
  } finally {
    closeQuietly(conn);
  }
}

/** A socket that writes what it is told and reads only when asked to. */
export class AttackSocket {
  /** The TCP connection. */
  readonly conn: Deno.TcpConn;
  #parser: FrameParser;

  private constructor(conn: Deno.TcpConn, parser: FrameParser) {
    this.conn = conn;
    this.#parser = parser;
  }

  /** Upgrades `path` with `cookie`: the socket, or the status or error that refused it. */
  static async open(
    peer: Peer,
    cookie: string,
    path = "/ws",
  ): Promise<AttackSocket | string> {
    try {
      const { conn, parser, response } = await connectWebSocket({
        hostname: "127.0.0.1",
        port: peer.port,
        path,
        cookie,
        headers: { "X-Forwarded-For": peer.address },
      }, new FrameParser(64 * 1024));
      if (response.status !== 101) return `upgrade ${response.status}`;
      return new AttackSocket(conn, parser);
    } catch (err) {
      return failure(err);
    }
  }

  /** Writes bytes; false once the connection is gone. */
  async write(bytes: Uint8Array): Promise<boolean> {
    try {
      await writeAll(this.conn, bytes);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends one JSON text frame; false once the connection is gone. */
  send(frame: unknown): Promise<boolean> {
    return this.write(encodeFrame(OP.TEXT, JSON.stringify(frame)));
  }

  /**
   * Reads until the server's close frame ("closed 1008") or the end of the
   * connection ("eof"), passing every text event to `onEvent`; "still open"
   * after `ms`. The close is echoed, as RFC 6455 asks.
   */
  async readUntilClose(
    ms: number,
    onEvent: (event: Record<string, unknown>) => void = () => {},
  ): Promise<string> {
    const parser = this.#parser;
    const deadline = Date.now() + ms;
    try {
      for (;;) {
        while (parser.next()) {
          const { opcode, buf, from, to } = parser;
          if (opcode === OP.CLOSE) {
            const code = to - from >= 2 ? (buf[from] << 8) | buf[from + 1] : 0;
            await this.write(
              encodeFrame(OP.CLOSE, buf.slice(from, from + 2), {
                mask: ZERO_KEY,
              }),
            );
            return code ? `closed ${code}` : "closed, no code";
          }
          if (opcode === OP.PING) {
            await this.write(
              encodeFrame(OP.PONG, buf.slice(from, to), { mask: ZERO_KEY }),
            );
          } else if (opcode === OP.TEXT) {
            const event = JSON.parse(decoder.decode(buf.subarray(from, to)));
            if (event.type === "batch") event.events.forEach(onEvent);
            else onEvent(event);
          }
        }
        const left = deadline - Date.now();
        if (left <= 0) return "still open";
        const timer = new Promise<"late">((r) => setTimeout(r, left, "late"));
        const read = this.conn.read(parser.space());
        const n = await Promise.race([read, timer]);
        if (n === "late") {
          read.catch(() => {});
          return "still open";
        }
        if (n === null) return "eof";
        parser.end += n;
      }
    } catch {
      return "eof";
    } finally {
      this.abort();
    }
  }

  /** Drops the connection. */
  abort(): void {
    closeQuietly(this.conn);
  }
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What every attack needs. */
export interface AttackContext {
  /** The server's origin and port. */
  origin: string;
  /** The server's port. */
  port: number;
  /** Date.now() at which attacks stop. */
  until: number;
  /** Size of the fragmented message, MiB. */
  fragmentMiB: number;
  /** Idle TCP connections per wave. */
  idle: number;
  /** The honest user whose name the look-alikes imitate. */
  victim: string;
}

/** One attack: its label and what it counts. */
export interface Attack {
  /** What it does, for the printout. */
  label: string;
  /** Outcome counts. */
  tally: Tally;
  /** Runs until the deadline (and a little after, to read its results). */
  run(ctx: AttackContext): Promise<void>;
}

/** The attacker at `address`. */
export function peer(ctx: AttackContext, address: string): Peer {
  return { origin: ctx.origin, port: ctx.port, address };
}

/** Whether the attacks still run. */
export function running(ctx: AttackContext): boolean {
  return Date.now() < ctx.until;
}

/** Logs in once, retrying while refused: the cookie, or "" past the deadline. */
export async function session(
  ctx: AttackContext,
  who: Peer,
  nickname: string,
): Promise<string> {
  while (running(ctx)) {
    const { status, cookie } = await login(who, nickname);
    if (status === 303) return cookie;
    await sleep(500);
  }
  return "";
}
