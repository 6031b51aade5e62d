/**
 * Which rooms exist, so their number stays bounded. Every room anyone has
 * opened has an index key in KV, expiring with the history it may hold, and
 * a new room is only made while fewer than MAX_ROOMS exist and its creator's
 * address has a creation token left. Storage is then bounded by
 * MAX_ROOMS × HISTORY_SIZE messages, whoever is sending.
 *
 * @module
 */
import { AddressLimiter } from "../chat/limits.ts";
import { LOBBY } from "../chat/protocol.ts";
import { KEYS } from "./keys.ts";
import { LruMap } from "./lru_map.ts";

/** Whether a room may be opened, and if not, why. */
export type RoomOpening =
  | { ok: true }
  /** MAX_ROOMS rooms exist already. */
  | { ok: false; reason: "rooms_full" }
  /** This address made its share of new rooms; it may try again after `retryAfter` seconds. */
  | { ok: false; reason: "too_many_rooms"; retryAfter: number };

/** What {@linkcode RoomIndex} needs. */
export interface RoomIndexOptions {
  maxRooms: number;
  /** How long an index key lives after the room was last opened: the history's TTL. */
  ttlMs: number;
  /** New rooms one address may make at once, and per hour after that. */
  createBurst: number;
  createPerHour: number;
  now?: () => number;
}

/** Rooms whose index key this instance refreshed lately, at most. */
const RECENT_ROOMS = 10000;
/** How often an open room's index key is written again, at most. */
const REFRESH_MS = 3600 * 1000;
/** How long a count of the rooms stands before it is read again. */
const COUNT_MS = 1000;
/** Addresses whose creation buckets are held at once. */
const MAX_CREATORS = 10000;

/** The rooms that exist, in KV, and the limits on making new ones. */
export class RoomIndex {
  #kv: Deno.Kv;
  #options: RoomIndexOptions;
  #now: () => number;
  #refreshed = new LruMap<string, number>(RECENT_ROOMS);
  #creators: AddressLimiter;
  #count: { value: number; at: number } | undefined;

  constructor(kv: Deno.Kv, options: RoomIndexOptions) {
    this.#kv = kv;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#creators = new AddressLimiter({
      burst: options.createBurst,
      perSecond: options.createPerHour / 3600,
      maxAddresses: MAX_CREATORS,
    });
  }

  /** Lets `address` open `room`: a room that exists always, a new one within the limits. */
  async open(room: string, address: string): Promise<RoomOpening> {
    const now = this.#now();
    const refreshed = this.#refreshed.get(room);
    if (refreshed !== undefined && now - refreshed < REFRESH_MS) {
      return { ok: true };
    }
    const [indexed, head] = await this.#kv.getMany([
      KEYS.room(room),
      KEYS.head(room),
    ]);
    // A room with stored messages from before the index existed is adopted.
    if (indexed.value !== null || head.value !== null || room === LOBBY) {
      await this.#write(room, now);
      return { ok: true };
    }
    if (await this.count() >= this.#options.maxRooms) {
      return { ok: false, reason: "rooms_full" };
    }
    const wait = this.#creators.take(address, now);
    if (wait > 0) {
      return {
        ok: false,
        reason: "too_many_rooms",
        retryAfter: Math.ceil(wait),
      };
    }
    const made = await this.#kv.atomic()
      .check({ key: KEYS.room(room), versionstamp: null })
      .set(KEYS.room(room), { created: now }, { expireIn: this.#options.ttlMs })
      .commit();
    // Lost a race to another instance making the same room: it exists now.
    if (made.ok && this.#count) this.#count.value++;
    this.#refreshed.set(room, now);
    return { ok: true };
  }

  /** How many rooms exist, read at most once a second. */
  async count(): Promise<number> {
    const now = this.#now();
    if (this.#count && now - this.#count.at < COUNT_MS) {
      return this.#count.value;
    }
    let value = 0;
    // Keys only: the values are not needed to count them.
    for await (const _ of this.#kv.list({ prefix: KEYS.roomPrefix })) value++;
    this.#count = { value, at: now };
    return value;
  }

  async #write(room: string, now: number): Promise<void> {
    await this.#kv.set(KEYS.room(room), { created: now }, {
      expireIn: this.#options.ttlMs,
    });
    this.#refreshed.set(room, now);
  }
}
