/**
 * What login asks moderation: is this person banned, and is this name a
 * moderator's, and if so is the password right. A moderator's name and
 * every confusable of it (the same skeleton) need the password.
 *
 * @module
 */
import { nicknameKey } from "../auth/nicknames.ts";
import { verifyPassword } from "../auth/passwords.ts";
import type { ModeratorAccount } from "../app/config.ts";
import { AddressLimiter } from "../chat/limits.ts";
import { type BanStore, remainingSeconds } from "./bans.ts";

/** Wrong passwords an address may try at once. */
export const PASSWORD_BURST = 5;
/** Then one more every this many seconds. */
export const PASSWORD_REFILL_SECONDS = 60;
/** Addresses whose password buckets are held at once; idle ones go first. */
const MAX_PASSWORD_ADDRESSES = 10000;
/** Password checks running at once; each takes a core for a quarter second. */
export const MAX_CONCURRENT_CHECKS = 2;

/** The outcome of {@linkcode LoginGate.check}. */
export type LoginVerdict =
  | { kind: "ok"; nickname: string; moderator: boolean }
  | { kind: "banned"; seconds: number | null }
  | { kind: "password_needed"; nickname: string }
  | { kind: "password_wrong"; nickname: string }
  | { kind: "password_rate_limited"; nickname: string; seconds: number };

/** Who is asking to log in. */
export interface LoginAttempt {
  nickname: string;
  /** Undefined when the form had no password field. */
  password: string | undefined;
  address: string;
  /** The session this browser presented, if any: a banned one stays banned. */
  sid?: string;
}

/** Checks logins against bans and moderator passwords. */
export class LoginGate {
  #accounts = new Map<string, ModeratorAccount>();
  #bans: BanStore;
  #limiter: AddressLimiter;
  #now: () => number;
  #checking = 0;

  constructor(options: {
    moderators: ModeratorAccount[];
    bans: BanStore;
    now?: () => number;
  }) {
    for (const account of options.moderators) {
      this.#accounts.set(nicknameKey(account.nickname), account);
    }
    this.#bans = options.bans;
    this.#now = options.now ?? Date.now;
    this.#limiter = new AddressLimiter({
      burst: PASSWORD_BURST,
      perSecond: 1 / PASSWORD_REFILL_SECONDS,
      maxAddresses: MAX_PASSWORD_ADDRESSES,
    });
  }

  /** The moderator whose name `nickname` is or looks like, if any. */
  account(nickname: string): ModeratorAccount | undefined {
    return this.#accounts.get(nicknameKey(nickname));
  }

  /** Decides a login; throws only when KV does. */
  async check(attempt: LoginAttempt): Promise<LoginVerdict> {
    const now = this.#now();
    const key = nicknameKey(attempt.nickname);
    const account = this.#accounts.get(key);
    if (!account) {
      const ban = await this.#bans.find(
        { key, sid: attempt.sid, ip: attempt.address },
        now,
      );
      if (ban) return { kind: "banned", seconds: remainingSeconds(ban, now) };
      return { kind: "ok", nickname: attempt.nickname, moderator: false };
    }
    // Moderators cannot be banned: an address ban of someone sharing their
    // network must not lock them out.
    // The page asks for what it shows: the moderator's own spelling.
    const { nickname } = account;
    if (!attempt.password) return { kind: "password_needed", nickname };
    // Many addresses guessing at once must not take every core either.
    if (this.#checking >= MAX_CONCURRENT_CHECKS) {
      return { kind: "password_rate_limited", nickname, seconds: 1 };
    }
    // A token before hashing, so a flood of guesses costs no CPU either.
    const wait = this.#limiter.take(attempt.address, this.#now());
    if (wait > 0) {
      const seconds = Math.ceil(wait);
      return { kind: "password_rate_limited", nickname, seconds };
    }
    this.#checking++;
    let right: boolean;
    try {
      right = await verifyPassword(attempt.password, account.hash);
    } finally {
      this.#checking--;
    }
    if (!right) return { kind: "password_wrong", nickname };
    this.#limiter.refund(attempt.address);
    return { kind: "ok", nickname, moderator: true };
  }
}
