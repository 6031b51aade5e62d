/**
 * One upgraded socket: where it is in its life, the frames it sent before
 * its join was processed, and the one way it is closed.
 *
 * Closing is two steps. The connection is gone at once (out of its room, no
 * more frames to it); the close frame follows once the peer stops sending,
 * because Deno drops the TCP connection as soon as a data frame arrives after
 * its close frame, and dropping it with unread data sends a reset that takes
 * the close frame with it (the client sees 1006, not why it was closed). The
 * connection's slot is released with the close frame.
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
/** A closed connection's close frame waits until its peer has sent nothing for this long... */
export const CLOSE_QUIET_MS = 50;
/** ...or this long at most, when the peer never pauses. */
export const CLOSE_DRAIN_MS = 1000;

/** A socket that neither opens nor closes this long after its upgrade is given up (its peer left mid-upgrade). */
export const OPEN_TIMEOUT_MS = 5000;

/** What a socket's events do, shared by every connection of a hub (see {@linkcode Connection.listen}). */
export interface SocketHandlers {
  open(connection: Connection): void | Promise<void>;
  message(connection: Connection, event: MessageEvent): void | Promise<void>;
  /** Where an unexpected error in a handler is logged. */
  log: Logger;
}

/** Where a sent frame's backlog is judged once the event loop has turned (fanout.ts). */
export interface BacklogWatch {
  watch(connection: Connection): void;
}

/** What a {@linkcode Connection} is told at birth. */
export interface ConnectionOptions {
  session: ChatSession;
  room: Room;
  ip: string;
  /** The last message id the client saw in this room, for loss-free resume. */
  since: number | undefined;
  /** The epoch `since` belongs to. */
  epoch?: string;
  /** Called once, when the connection becomes `gone`, with the state it had. */
  onGone(connection: Connection, previous: ConnectionState): void;
  /** Called once, when its close frame is sent or its socket closed: its slot is free. */
  onReleased(connection: Connection): void;
  /** Judges the backlog after each {@linkcode Connection.send}, as for room broadcasts. */
  backlog?: BacklogWatch;
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
  readonly epoch: string | undefined;
  #state: ConnectionState = "connecting";
  /** Its place in its room's {@linkcode MemberList} while joined. */
  index = -1;
  #held: ClientRequest[] | undefined;
  #onGone: ConnectionOptions["onGone"];
  #onReleased: ConnectionOptions["onReleased"];
  #backlog: BacklogWatch | undefined;
  /** The close frame chosen by {@linkcode Connection.close}, sent now or after the drain. */
  #closeFrame: { code: number; reason: string } | undefined;
  #lastFrameAt = 0;
  #drainUntil = 0;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #released = false;
  #openTimer: ReturnType<typeof setTimeout> | undefined;
  #log: Logger | undefined;
  #handlers: SocketHandlers | undefined;

  constructor(socket: WebSocket, options: ConnectionOptions) {
    this.socket = socket;
    this.session = options.session;
    this.room = options.room;
    this.ip = options.ip;
    this.since = options.since;
    this.epoch = options.epoch;
    this.#onGone = options.onGone;
    this.#onReleased = options.onReleased;
    this.#backlog = options.backlog;
    this.#log = options.log;
    // Deno fires neither open nor close for some upgrades whose client
    // left at once, which would hold their slot forever.
    this.#openTimer = setTimeout(() => {
      this.#openTimer = undefined;
      if (this.socket.readyState === WebSocket.CONNECTING) {
        this.close(CLOSE.GOING_AWAY, "Upgrade never completed");
      }
    }, OPEN_TIMEOUT_MS);
    Deno.unrefTimer(this.#openTimer);
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

  /**
   * Routes the socket's events to `handlers`. The connection itself is the
   * listener (handleEvent), so an idle connection holds no closures of its
   * own for them; an unexpected error closes only this socket, with 1011.
   */
  listen(handlers: SocketHandlers): void {
    this.#handlers = handlers;
    for (const type of ["open", "message", "close", "error"]) {
      this.socket.addEventListener(type, this);
    }
  }

  /** The socket's events, as {@linkcode Connection.listen} set them up. */
  handleEvent(event: Event): void {
    const handlers = this.#handlers;
    if (!handlers) return;
    // An error event is always followed by a close event.
    if (event.type === "error") return;
    this.guard(
      () =>
        event.type === "message"
          ? handlers.message(this, event as MessageEvent)
          : event.type === "open"
          ? handlers.open(this)
          : this.closed(),
      handlers.log,
      () => ({ nickname: this.session.nickname, room: this.room.name }),
    );
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

  /** Sends one frame's text; its backlog is judged as a broadcast's is (1013 past SLOW_CLIENT_BYTES), and a failed send closes the connection. */
  send(text: string): void {
    const socket = this.socket;
    if (socket.readyState !== WebSocket.OPEN || this.#state === "gone") return;
    try {
      socket.send(text);
    } catch {
      this.close(CLOSE.GOING_AWAY, "Send failed");
      return;
    }
    this.#backlog?.watch(this);
  }

  /** Notes that the peer sent a frame, so a close waits for it to pause. */
  received(): void {
    this.#lastFrameAt = Date.now();
  }

  /** The socket opened; false when the connection was closed meanwhile, and then the socket is closed now. */
  opened(): boolean {
    clearTimeout(this.#openTimer);
    if (this.#closeFrame === undefined && this.#state !== "gone") return true;
    // Deno ignores close() on a socket still connecting, which would leave
    // it open outside every count: it gets its close frame now.
    const { code, reason } = this.#closeFrame ??
      { code: CLOSE.GOING_AWAY, reason: "Closed" };
    this.#closeSocket(code, reason);
    return false;
  }

  /**
   * Closes the connection: it is removed at once, since Deno may fire close
   * twice or never; the close frame follows when the peer pauses (at most
   * {@linkcode CLOSE_DRAIN_MS}), or at once with `now` (shutdown).
   */
  close(code: number, reason: string, options: { now?: boolean } = {}): void {
    if (this.#closeFrame !== undefined) {
      if (options.now && this.#drainTimer !== undefined) this.#endDrain();
      return;
    }
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
    this.#closeFrame = { code, reason };
    this.#gone();
    const now = Date.now();
    if (
      !options.now && this.socket.readyState === WebSocket.OPEN &&
      now - this.#lastFrameAt < CLOSE_QUIET_MS
    ) {
      // What it still sends meanwhile is discarded: the connection is gone.
      this.#drainUntil = now + CLOSE_DRAIN_MS;
      this.#drainTimer = setTimeout(() => this.#drain(), CLOSE_QUIET_MS);
      return;
    }
    this.#endDrain();
  }

  /** The socket's close event: the connection is gone and its slot free. */
  closed(): void {
    clearTimeout(this.#openTimer);
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    this.#gone();
    this.#release();
  }

  #drain(): void {
    const now = Date.now();
    const quiet = now - this.#lastFrameAt;
    if (quiet >= CLOSE_QUIET_MS || now >= this.#drainUntil) {
      this.#endDrain();
      return;
    }
    this.#drainTimer = setTimeout(
      () => this.#drain(),
      Math.min(CLOSE_QUIET_MS - quiet, this.#drainUntil - now),
    );
  }

  #endDrain(): void {
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    const { code, reason } = this.#closeFrame!;
    this.#closeSocket(code, reason);
    this.#release();
  }

  #closeSocket(code: number, reason: string): void {
    try {
      const state = this.socket.readyState;
      if (state === WebSocket.OPEN || state === WebSocket.CONNECTING) {
        this.socket.close(code, reason);
      }
    } catch {
      // Already closing: nothing more to send.
    }
  }

  /** Marks it gone and tells its owner, once. */
  #gone(): void {
    if (this.#state === "gone") return;
    const previous = this.#state;
    this.#state = "gone";
    this.#held = undefined;
    this.#onGone(this, previous);
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#onReleased(this);
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
