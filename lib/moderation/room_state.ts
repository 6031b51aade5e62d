/**
 * Mutes and each room's rules (slow mode, lock, topic): kept in KV, and
 * held in memory on every instance so the message path checks them without
 * a read. Other instances' changes arrive as signals (signals.ts).
 *
 * @module
 */
import { KEYS } from "../storage/keys.ts";

/** A room's moderation settings. */
export interface RoomRules {
  /** Seconds between one user's messages; 0: off. */
  slowSeconds: number;
  /** Only moderators may post. */
  locked: boolean;
  /** Shown under the room name; "" when none. */
  topic: string;
}

/** A room nobody has moderated. */
export const NO_RULES: Readonly<RoomRules> = Object.freeze({
  slowSeconds: 0,
  locked: false,
  topic: "",
});

/** One mute. */
export interface Mute {
  nickname: string;
  /** Milliseconds since the epoch; null: until unmuted. */
  until: number | null;
}

/** Mutes and room rules, in KV and in memory. */
export class ModerationState {
  #kv: Deno.Kv;
  #mutes = new Map<string, Mute>();
  #rules = new Map<string, RoomRules>();

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Reads every mute and room rule from KV (at start). */
  async load(): Promise<void> {
    for await (const e of this.#kv.list<Mute>({ prefix: KEYS.mutePrefix })) {
      this.#mutes.set(String(e.key[1]), e.value);
    }
    const rules = this.#kv.list<RoomRules>({ prefix: KEYS.roomRulesPrefix });
    for await (const e of rules) this.#rules.set(String(e.key[1]), e.value);
  }

  /** When the mute of `key` ends (null: never), or undefined when not muted at `now`. */
  mutedUntil(key: string, now: number): number | null | undefined {
    const mute = this.#mutes.get(key);
    if (!mute) return undefined;
    if (mute.until !== null && mute.until <= now) {
      this.#mutes.delete(key);
      return undefined;
    }
    return mute.until;
  }

  /** Mutes `key` (or unmutes it with undefined) in KV and here. */
  async setMute(key: string, mute: Mute | undefined, now: number) {
    if (mute) {
      await this.#kv.set(
        KEYS.mute(key),
        mute,
        mute.until === null
          ? {}
          : { expireIn: Math.max(1000, mute.until - now) },
      );
    } else await this.#kv.delete(KEYS.mute(key));
    this.applyMute(key, mute);
  }

  /** Takes a mute another instance set. */
  applyMute(key: string, mute: Mute | undefined): void {
    if (mute) this.#mutes.set(key, mute);
    else this.#mutes.delete(key);
  }

  /** The rules of `room`. */
  rules(room: string): Readonly<RoomRules> {
    return this.#rules.get(room) ?? NO_RULES;
  }

  /** Changes some of a room's rules in KV and here; returns them all. */
  async setRules(room: string, change: Partial<RoomRules>): Promise<RoomRules> {
    const rules = { ...this.rules(room), ...change };
    const plain = rules.slowSeconds === 0 && !rules.locked && !rules.topic;
    if (plain) await this.#kv.delete(KEYS.roomRules(room));
    else await this.#kv.set(KEYS.roomRules(room), rules);
    this.applyRules(room, rules);
    return rules;
  }

  /** Takes rules another instance set. */
  applyRules(room: string, rules: RoomRules): void {
    this.#rules.set(room, rules);
  }
}
