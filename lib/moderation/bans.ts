/**
 * Bans in KV: one record per nickname skeleton, naming the sessions and
 * addresses it also covers, each of which points back at it. KV expiry
 * cleans up; `until` is the truth, since expiry in KV is lazy.
 *
 * @module
 */
import { KEYS } from "../storage/keys.ts";

/** One ban. */
export interface BanRecord {
  /** The nickname as it was shown when banned. */
  nickname: string;
  /** Its skeleton ({@linkcode nicknameKey}): confusables of it are banned too. */
  key: string;
  sids: string[];
  ips: string[];
  /** Milliseconds since the epoch; null: permanent. */
  until: number | null;
  reason?: string;
  by: string;
  at: number;
}

/** What a ban check looks at: whichever of these the caller knows. */
export interface BanQuery {
  key?: string;
  sid?: string;
  ip?: string;
}

interface Pointer {
  key: string;
}

// Expiry only cleans up; `until` decides.
function expiry(until: number | null, now: number): { expireIn?: number } {
  return until === null ? {} : { expireIn: Math.max(1000, until - now) };
}

/** Reads and writes bans. */
export class BanStore {
  #kv: Deno.Kv;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Stores `record`, replacing an earlier ban of the same name. */
  async ban(record: BanRecord, now: number): Promise<void> {
    await this.unban(record.key);
    await this.#write(record, now);
  }

  /** Adds sessions and addresses an instance found for the ban of `key`. */
  async extend(
    key: string,
    more: { sids: string[]; ips: string[] },
    now: number,
  ): Promise<void> {
    const entry = await this.#kv.get<BanRecord>(KEYS.banByNick(key));
    const record = entry.value;
    if (!record) return;
    const sids = [...new Set([...record.sids, ...more.sids])];
    const ips = [...new Set([...record.ips, ...more.ips])];
    if (
      sids.length === record.sids.length && ips.length === record.ips.length
    ) {
      return;
    }
    await this.#write({ ...record, sids, ips }, now);
  }

  /** Lifts the ban of `key` and of every session and address it covered; the record, if there was one. */
  async unban(key: string): Promise<BanRecord | undefined> {
    const record = (await this.#kv.get<BanRecord>(KEYS.banByNick(key))).value;
    if (!record) return undefined;
    let op = this.#kv.atomic().delete(KEYS.banByNick(key));
    for (const sid of record.sids) op = op.delete(KEYS.banBySession(sid));
    for (const ip of record.ips) op = op.delete(KEYS.banByAddress(ip));
    await op.commit();
    return record;
  }

  /** The ban in force at `now` that covers any of `query`, if one does. */
  async find(query: BanQuery, now: number): Promise<BanRecord | undefined> {
    const keys: string[] = [];
    if (query.key !== undefined) keys.push(query.key);
    const pointers: Deno.KvKey[] = [];
    if (query.sid !== undefined) pointers.push(KEYS.banBySession(query.sid));
    if (query.ip !== undefined) pointers.push(KEYS.banByAddress(query.ip));
    if (pointers.length > 0) {
      for (const entry of await this.#kv.getMany<Pointer[]>(pointers)) {
        if (entry.value) keys.push(entry.value.key);
      }
    }
    if (keys.length === 0) return undefined;
    const records = await this.#kv.getMany<BanRecord[]>(
      [...new Set(keys)].map((k) => KEYS.banByNick(k)),
    );
    for (const { value } of records) {
      if (value && (value.until === null || value.until > now)) return value;
    }
    return undefined;
  }

  async #write(record: BanRecord, now: number): Promise<void> {
    const options = expiry(record.until, now);
    const pointer: Pointer = { key: record.key };
    let op = this.#kv.atomic().set(KEYS.banByNick(record.key), record, options);
    for (const sid of record.sids) {
      op = op.set(KEYS.banBySession(sid), pointer, options);
    }
    for (const ip of record.ips) {
      op = op.set(KEYS.banByAddress(ip), pointer, options);
    }
    await op.commit();
  }
}

/** How long a ban has left at `now`, in whole seconds (rounded up); null when permanent. */
export function remainingSeconds(
  record: { until: number | null },
  now: number,
): number | null {
  return record.until === null
    ? null
    : Math.max(1, Math.ceil((record.until - now) / 1000));
}
