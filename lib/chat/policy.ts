/**
 * What one session may do, whichever of its sockets it uses: a token
 * bucket for messages (with strikes for hammering at an empty bucket or
 * sending what is refused),
 * de-duplication of client message ids, and a typing throttle. It outlives
 * the session's sockets for a while, so a reconnect resets none of it.
 * Tested with a fake clock in tests/policy_test.ts.
 *
 * @module
 */
import { TokenBucket } from "./limits.ts";
import type { ChatMessage } from "./protocol.ts";

/** Recent client message ids remembered per session. */
export const MAX_CIDS = 256;
/** A typing event per user per room at most this often. */
export const TYPING_INTERVAL_MS = 1000;
/** Refused frames (messages, invalid frames, cid repeats, throttled typing), per token of burst, before the socket is closed. */
export const STRIKES_PER_BURST = 5;

/** The outcome of {@linkcode SessionPolicy.takeMessage}. */
export type MessageVerdict =
  | { kind: "ok" }
  /** Refused: the bucket is empty for this many seconds (one decimal). */
  | { kind: "wait"; seconds: number }
  /** Refused too often in a row: close the socket. */
  | { kind: "abuse" };

/** How fast one session may post. */
export interface PolicyOptions {
  burst: number;
  perSecond: number;
  now: number;
}

/** Per-session rate limit, cid memory and typing throttle. */
export class SessionPolicy {
  #bucket: TokenBucket;
  #strikeLimit: number;
  #strikes = 0;
  #struckAt: number;
  #forgivePerMs: number;
  // Made on first use: most sessions never type or send a cid, and two
  // empty Maps per session are about 340 bytes of heap
  #cids: Map<string, ChatMessage> | undefined;
  #typingAt: Map<string, number> | undefined;

  constructor(options: PolicyOptions) {
    this.#bucket = new TokenBucket(options);
    this.#strikeLimit = STRIKES_PER_BURST * options.burst;
    this.#struckAt = options.now;
    this.#forgivePerMs = options.perSecond / 1000;
  }

  /**
   * Counts one refused frame; true when there were too many: close the
   * socket. Strikes are forgiven at the message rate, so an honest client's
   * occasional refusal (two tabs typing, a retry after a reconnect) never
   * adds up, while a flood does within a second.
   */
  strike(now: number): boolean {
    if (now > this.#struckAt) {
      const forgiven = (now - this.#struckAt) * this.#forgivePerMs;
      this.#strikes = Math.max(0, this.#strikes - forgiven);
      this.#struckAt = now;
    }
    return ++this.#strikes > this.#strikeLimit;
  }

  /** Whether a typing event in `room` goes out now; at most one a second per room. */
  allowTyping(room: string, now: number): boolean {
    const last = this.#typingAt?.get(room) ?? 0;
    if (now - last < TYPING_INTERVAL_MS) return false;
    (this.#typingAt ??= new Map()).set(room, now);
    return true;
  }

  /** The message already taken under `cid`, if any: a retry is confirmed, not posted. */
  seen(cid: string): ChatMessage | undefined {
    return this.#cids?.get(cid);
  }

  /** Takes a token for one message, or says how long to wait or that it is abuse. */
  takeMessage(now: number): MessageVerdict {
    const wait = this.#bucket.take(now);
    if (wait === 0) {
      this.#strikes = 0;
      return { kind: "ok" };
    }
    if (this.strike(now)) return { kind: "abuse" };
    return { kind: "wait", seconds: Math.ceil(wait * 10) / 10 };
  }

  /** Remembers a message under its cid (the oldest is forgotten past {@linkcode MAX_CIDS}). */
  remember(message: ChatMessage): void {
    if (message.cid === undefined) return;
    const cids = this.#cids ??= new Map();
    cids.set(message.cid, message);
    if (cids.size > MAX_CIDS) cids.delete(cids.keys().next().value!);
  }

  /** Forgets `cid`: its message was not stored, so a retry must post it. */
  forget(cid: string): void {
    this.#cids?.delete(cid);
  }
}
