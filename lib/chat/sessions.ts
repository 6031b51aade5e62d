/**
 * The sessions with sockets on this instance, and those that had some a
 * moment ago: a session's policy outlives its sockets for a while so a
 * reconnect neither resets the rate limit nor forgets what was posted.
 *
 * @module
 */
import type { Connection } from "./connection.ts";
import { SessionPolicy } from "./policy.ts";

/** How long a session without sockets is remembered. */
export const SESSION_RETENTION_MS = 120_000;

/** One logged-in browser as this instance knows it. */
export interface ChatSession {
  readonly sid: string;
  readonly nickname: string;
  readonly sockets: Set<Connection>;
  readonly policy: SessionPolicy;
  /** Set by logout: nothing may hold its nickname again. */
  loggedOut: boolean;
  /** When its last socket closed. */
  idleSince: number;
}

/** How a new session's policy is set up. */
export interface SessionTableOptions {
  rateBurst: number;
  ratePerSecond: number;
}

/** Sessions by id. */
export class SessionTable {
  #sessions = new Map<string, ChatSession>();
  #options: SessionTableOptions;

  constructor(options: SessionTableOptions) {
    this.#options = options;
  }

  /** The session `sid`, made on its first socket. */
  open(sid: string, nickname: string, now: number): ChatSession {
    let session = this.#sessions.get(sid);
    if (!session) {
      session = {
        sid,
        nickname,
        sockets: new Set(),
        policy: new SessionPolicy({
          burst: this.#options.rateBurst,
          perSecond: this.#options.ratePerSecond,
          now,
        }),
        loggedOut: false,
        idleSince: 0,
      };
      this.#sessions.set(sid, session);
    }
    return session;
  }

  /** The session `sid`, if this instance knows it. */
  get(sid: string): ChatSession | undefined {
    return this.#sessions.get(sid);
  }

  /** Forgets `sid` at once (logout). */
  delete(sid: string): void {
    this.#sessions.delete(sid);
  }

  /** Forgets sessions that have had no socket for {@linkcode SESSION_RETENTION_MS}. */
  prune(now: number): void {
    const cutoff = now - SESSION_RETENTION_MS;
    for (const [sid, session] of this.#sessions) {
      if (session.sockets.size === 0 && session.idleSince < cutoff) {
        this.#sessions.delete(sid);
      }
    }
  }

  /** Sessions with at least one socket. */
  *active(): IterableIterator<ChatSession> {
    for (const session of this.#sessions.values()) {
      if (session.sockets.size > 0) yield session;
    }
  }

  /** Every known session, with sockets or not. */
  values(): IterableIterator<ChatSession> {
    return this.#sessions.values();
  }
}
