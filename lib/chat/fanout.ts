/**
 * Sending one frame to every member of a room, and evicting readers that
 * fall behind. Each frame is serialised once; the hot loop does only
 * `send` per member.
 *
 * @module
 */
import { countEviction, recordFanout } from "../app/telemetry.ts";
import type { Connection } from "./connection.ts";
import { CLOSE, encodeEvents, type RoomEvent } from "./protocol.ts";

/** How fan-out judges a slow reader. */
export interface FanoutOptions {
  /** A member with more than this many bytes unsent is evicted. */
  slowClientBytes: number;
}

/** Fan-out to member lists, with one shared backlog check. */
export class Fanout {
  #slowBytes: number;
  /** Typing is the first thing a backed-up reader goes without. */
  #typingLimit: number;
  #backlog = new Set<readonly Connection[]>();
  /** Connections sent a frame of their own (a welcome, an error, a re-confirmation). */
  #watched = new Set<Connection>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(options: FanoutOptions) {
    this.#slowBytes = options.slowClientBytes;
    this.#typingLimit = options.slowClientBytes / 4;
  }

  /** Sends `events` as one frame, serialised once, to every open member; typing-only frames skip backed-up readers. */
  send(members: readonly Connection[], events: RoomEvent[]): void {
    const frame = encodeEvents(events);
    let typingOnly = true;
    for (const event of events) {
      if (event.type !== "typing") {
        typingOnly = false;
        break;
      }
    }
    let evict: Connection[] | undefined;
    let sent = 0;
    for (let i = 0; i < members.length; i++) {
      const socket = members[i].socket;
      if (socket.readyState !== WebSocket.OPEN) {
        (evict ??= []).push(members[i]);
        continue;
      }
      if (typingOnly && socket.bufferedAmount > this.#typingLimit) continue;
      try {
        socket.send(frame);
        sent++;
      } catch {
        countEviction("send_failed");
        (evict ??= []).push(members[i]);
      }
    }
    recordFanout(sent, events.length);
    if (!this.#stopped) {
      this.#backlog.add(members);
      this.#timer ??= setTimeout(this.#checkBacklog, 0);
    }
    if (evict) { for (const member of evict) tooSlow(member); }
  }

  /** Judges `member`'s backlog once the loop has turned, as after a broadcast. */
  watch(member: Connection): void {
    if (this.#stopped) return;
    this.#watched.add(member);
    this.#timer ??= setTimeout(this.#checkBacklog, 0);
  }

  /** Stops the backlog check (shutdown). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#backlog.clear();
    this.#watched.clear();
  }

  /**
   * Deno counts a frame in bufferedAmount from send() until its write
   * completes on a later turn, so a reader that keeps up would look slow
   * right after a burst; the backlog is judged once the loop has turned.
   */
  #checkBacklog = (): void => {
    this.#timer = undefined;
    for (const members of this.#backlog) {
      let slowest: Connection[] | undefined;
      for (const member of members) {
        if (member.socket.bufferedAmount > this.#slowBytes) {
          (slowest ??= []).push(member);
        }
      }
      if (slowest) {
        for (const member of slowest) {
          countEviction("backlog");
          tooSlow(member);
        }
      }
    }
    this.#backlog.clear();
    for (const member of this.#watched) {
      if (
        member.state !== "gone" &&
        member.socket.bufferedAmount > this.#slowBytes
      ) {
        countEviction("backlog");
        tooSlow(member);
      }
    }
    this.#watched.clear();
  };
}

function tooSlow(member: Connection): void {
  member.close(CLOSE.TRY_AGAIN, "Too slow: reconnect to catch up");
}
