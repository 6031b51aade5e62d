/**
 * Keeping each connected session's nickname: claimed by a session's first
 * socket, renewed for every connected session by the hub's one timer, held
 * for a grace period after the last socket closes, released on logout.
 *
 * @module
 */
import type { Logger } from "../app/log.ts";
import type { NicknameRegistry } from "../storage/nickname_registry.ts";
import type { Connection } from "./connection.ts";
import type { ChatSession } from "./sessions.ts";

/** How long leases last. */
export interface NickLeasesOptions {
  registry: NicknameRegistry;
  /** A connected session's lease, renewed well before it runs out. */
  leaseMs: number;
  /** How long a name stays held after its last socket closes. */
  graceMs: number;
  log: Logger;
}

/** The nickname side of sessions' lives. */
export class NickLeases {
  #registry: NicknameRegistry;
  #leaseMs: number;
  #graceMs: number;
  #log: Logger;

  constructor(options: NickLeasesOptions) {
    this.#registry = options.registry;
    this.#leaseMs = options.leaseMs;
    this.#graceMs = options.graceMs;
    this.#log = options.log;
  }

  /** Whether `connection` may use its session's nickname; only a session's first socket needs a claim. */
  confirm(connection: Connection): Promise<boolean> {
    const { session } = connection;
    for (const other of session.sockets) {
      // Another socket already holds the lease, and the timer renews it.
      if (other !== connection && other.holdsNickname) {
        return Promise.resolve(true);
      }
    }
    return this.#registry.claim(session.nickname, session.sid, this.#leaseMs);
  }

  /** Keeps the name for the grace period so a reload does not lose it. */
  holdAfterLeaving(session: ChatSession): void {
    this.#registry.claim(session.nickname, session.sid, this.#graceMs, {
      exact: true,
    }).catch((err) =>
      this.#log("Could not hold nickname after leaving", {
        nickname: session.nickname,
        error: String(err),
      })
    );
  }

  /** Renews the leases of `sessions`; returns the sessions whose name someone else now holds. */
  async renew(sessions: Iterable<ChatSession>): Promise<ChatSession[]> {
    const held = [...sessions].filter((s) => !s.loggedOut);
    if (held.length === 0) return [];
    try {
      const lost = new Set(
        await this.#registry.renew(
          held.map(({ nickname, sid }) => ({ nickname, sid })),
          this.#leaseMs,
        ),
      );
      return held.filter((s) => lost.has(s.nickname));
    } catch (err) {
      this.#log("Renewing nickname leases failed", { error: String(err) });
      return [];
    }
  }

  /** Frees `nickname` if `sid` holds it. */
  release(nickname: string, sid: string): Promise<void> {
    return this.#registry.release(nickname, sid);
  }
}
