/**
 * Presence leases across instances: each instance writes one expiring KV
 * entry per user per room, tagged with its id and renewed by heartbeat, so
 * the users of an instance that dies disappear within the TTL.
 *
 * @module
 */
import { KEYS } from "./keys.ts";

/** One user seen in one room through one instance. */
export interface PresenceLease {
  room: string;
  sid: string;
  nickname: string;
  instance: string;
  until: number;
}

/** Shared presence records. */
export interface PresenceStore {
  /** Records (or renews) this instance's users. */
  put(
    entries: { room: string; sid: string; nickname: string }[],
  ): Promise<void>;
  /** Removes this instance's record of a user in a room. */
  remove(room: string, sid: string): Promise<void>;
  /** Live leases in a room, every instance. */
  list(room: string): Promise<PresenceLease[]>;
  /** Live leases in every room, every instance. */
  listAll(): Promise<PresenceLease[]>;
}

interface Stored {
  nickname: string;
  until: number;
}

// Deno KV takes at most 1000 mutations per atomic operation.
const CHUNK = 500;

/** Presence over Deno KV for the instance `instance`. */
export function createKvPresence(
  kv: Deno.Kv,
  options: { instance: string; ttlMs: number; now?: () => number },
): PresenceStore {
  const now = options.now ?? Date.now;
  const key = (room: string, sid: string) =>
    KEYS.presence(room, options.instance, sid);

  async function collect(prefix: Deno.KvKey): Promise<PresenceLease[]> {
    const out: PresenceLease[] = [];
    const t = now();
    for await (const entry of kv.list<Stored>({ prefix })) {
      if (entry.value.until <= t) continue;
      const [, room, instance, sid] = entry.key as string[];
      out.push({
        room,
        sid,
        instance,
        nickname: entry.value.nickname,
        until: entry.value.until,
      });
    }
    return out;
  }

  return {
    async put(entries) {
      for (let i = 0; i < entries.length; i += CHUNK) {
        let op = kv.atomic();
        const until = now() + options.ttlMs;
        for (const e of entries.slice(i, i + CHUNK)) {
          op = op.set(key(e.room, e.sid), { nickname: e.nickname, until }, {
            expireIn: options.ttlMs * 2,
          });
        }
        await op.commit();
      }
    },
    async remove(room, sid) {
      await kv.delete(key(room, sid));
    },
    list: (room) => collect(KEYS.presencePrefix(room)),
    listAll: () => collect(KEYS.presencePrefix()),
  };
}

/** Presence for a single instance: nothing is shared, so nothing is stored. */
export const NO_PRESENCE_LEASES: PresenceStore = {
  put: () => Promise.resolve(),
  remove: () => Promise.resolve(),
  list: () => Promise.resolve([]),
  listAll: () => Promise.resolve([]),
};
