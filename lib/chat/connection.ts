/**
 * One upgraded socket: where it is in its life, the frames it sent before
 * its join was processed, and the one way it is closed.
 *
 * @module
 */
import type { Logger } from "../app/log.ts";
import { errorText } from "../app/log.ts";
import { countClose } from "../app/telemetry.ts";
import { type ClientRequest, CLOSE } from "./protocol.ts";
import type { Room } from "./room.ts";
import type { ChatSession } from "./sessions.ts";

/**
 * A connection's life, in order; it only moves forward.
 * - `connecting`: upgraded, waiting for the socket to open and the nickname claim.
 * - `queued`: the nickname is confirmed; waiting in its room's join queue.
 * - `counted`: a flush counted it in the room's presence; its welcome is being prepared.
 * - `joined`: welcomed; it gets the room's fan-out.
 * - `gone`: closed and removed everywhere.
 */
export type ConnectionState =
  | "connecting"
  | "queued"
  | "counted"
  | "joined"
  | "gone";

/** Frames a socket may send before its join is processed; more is abuse. */
export const MAX_HELD_FRAMES = 32;

/** What a {@linkcode Connection} is told at birth. */
export interface ConnectionOptions {
  session: ChatSession;
  room: Room;
  ip: string;
  /** The last message id the client saw in this room, for loss-free resume. */
  since: number | undefined;
  /** Called once, when the connection becomes `gone`, with the state it had. */
  onGone(connection: Connection, previous: ConnectionState): void;
  /** Where a close the operator should see (abuse, too slow) is logged. */
  log?: Logger;
}

/** Closes an operator looks for (rate limits, oversized or binary frames, slow readers); others are debug. */
const WARNED_CLOSES = new Set<number>([
  CLOSE.POLICY,
  CLOSE.TOO_BIG,
  CLOSE.UNSUPPORTED,
  CLOSE.TRY_AGAIN,
]);

/** One socket in one room, for one session. */
export class Connection {
  readonly socket: WebSocket;
  readonly session: ChatSession;
  readonly room: Room;
  readonly ip: string;
  readonly since: number | undefined;
  #state: ConnectionState = "connecting";
  /** Its place in its room's {@linkcode MemberList} while joined. */
  index = -1;
  #held: ClientRequest[] | undefined;
  #onGone: ConnectionOptions["onGone"];
  #log: Logger | undefined;

  constructor(socket: WebSocket, options: ConnectionOptions) {
    this.socket = socket;
    this.session = options.session;
    this.room = options.room;
    this.ip = options.ip;
    this.since = options.since;
    this.#onGone = options.onGone;
    this.#log = options.log;
  }

  /** Where the connection is in its life. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** Moves to the next state; `gone` only through {@linkcode Connection.gone}. */
  advance(to: "queued" | "counted" | "joined"): void {
    this.#state = to;
  }

  /** Whether it holds (or is confirming) its session's nickname lease. */
  get holdsNickname(): boolean {
    return this.#state === "queued" || this.#state === "counted" ||
      this.#state === "joined";
  }

  /** Keeps a frame until the join is processed; false when too many wait. */
  hold(request: ClientRequest): boolean {
    this.#held ??= [];
    if (this.#held.length >= MAX_HELD_FRAMES) return false;
    this.#held.push(request);
    return true;
  }

  /** The frames held before the join, once. */
  takeHeld(): ClientRequest[] {
    const held = this.#held ?? [];
    this.#held = undefined;
    return held;
  }

  /** Sends one frame's text; a failed send closes the connection. */
  send(text: string): void {
    const socket = this.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    try {
      socket.send(text);
    } catch {
      this.close(CLOSE.GOING_AWAY, "Send failed");
    }
  }

  /** Closes the socket and removes the connection at once, since Deno may fire close twice or never. */
  close(code: number, reason: string): void {
    if (this.#state !== "gone") {
      this.#log?.("Closed a socket", {
        code,
        reason,
        nickname: this.session.nickname,
        room: this.room.name,
        ip: this.ip,
      }, { level: WARNED_CLOSES.has(code) ? "warning" : "debug" });
      countClose(code);
    }
    try {
      const state = this.socket.readyState;
      if (state === WebSocket.OPEN || state === WebSocket.CONNECTING) {
        this.socket.close(code, reason);
      }
    } catch {
      // Already closing: removing it below is what matters.
    }
    this.gone();
  }

  /** Marks it gone and tells its owner, once. */
  gone(): void {
    if (this.#state === "gone") return;
    const previous = this.#state;
    this.#state = "gone";
    this.#held = undefined;
    this.#onGone(this, previous);
  }

  /** Runs a socket handler; an unexpected error closes only this socket, with 1011, and is logged. */
  guard(
    fn: () => void | Promise<void>,
    log: Logger,
    fields: () => Record<string, unknown>,
  ): void {
    const fail = (err: unknown) => {
      log("Unexpected error on a socket: closing it", {
        ...fields(),
        error: errorText(err),
      });
      this.close(CLOSE.INTERNAL, "Internal error");
    };
    try {
      const result = fn();
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  }
}

/** A room's welcomed connections, in an array the fan-out loops over, with O(1) removal. */
export class MemberList {
  /** The members, in no particular order. */
  readonly list: Connection[] = [];

  /** Adds a newly welcomed connection. */
  add(member: Connection): void {
    member.index = this.list.length;
    this.list.push(member);
  }

  /** Removes `member` by moving the last one into its place. */
  remove(member: Connection): void {
    const last = this.list.pop()!;
    if (last !== member) {
      this.list[member.index] = last;
      last.index = member.index;
    }
    member.index = -1;
  }

  /** How many members there are. */
  get size(): number {
    return this.list.length;
  }
}
