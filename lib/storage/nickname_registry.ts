/**
 * The registry that leases each nickname to one session, in Deno KV.
 *
 * @module
 */
import { nicknameKey } from "../auth/nicknames.ts";
import { KEYS } from "./keys.ts";

interface Lease {
  sid: string;
  nickname: string;
  until: number;
}

/** How {@linkcode NicknameRegistry.claim} treats a lease already there. */
export interface ClaimOptions {
  /** Set the lease to exactly `holdMs`, even if that shortens it. */
  exact?: boolean;
  /** The session being replaced (a new login): its lease counts as free. */
  from?: string;
}

/** Leases nicknames to sessions so two people never hold the same name. */
export interface NicknameRegistry {
  /**
   * Claims or renews `nickname` for `sid` for `holdMs`; false when someone
   * else holds it. A renewal never shortens a lease unless `exact` is set;
   * `from` names a session whose lease this claim takes over.
   */
  claim(
    nickname: string,
    sid: string,
    holdMs: number,
    options?: ClaimOptions,
  ): Promise<boolean>;
  /** Renews many leases at once; returns the nicknames that were lost. */
  renew(
    leases: { nickname: string; sid: string }[],
    holdMs: number,
  ): Promise<string[]>;
  /** Releases `nickname` if `sid` holds it. */
  release(nickname: string, sid: string): Promise<void>;
  /** The session holding `nickname` now, if any. */
  holder(nickname: string): Promise<string | undefined>;
}

// Deno KV limits one atomic operation to 100 checks.
const RENEW_CHUNK = 100;

/**
 * A registry over Deno KV: atomic check-and-set makes a claim exact even
 * when several processes share one KV.
 */
export function createKvNicknameRegistry(
  kv: Deno.Kv,
  options: { now?: () => number } = {},
): NicknameRegistry {
  const now = options.now ?? Date.now;
  const keyOf = (nickname: string) => KEYS.nickname(nicknameKey(nickname));
  // Expiry in KV is lazy; `until` is the truth, expireIn only cleans up.
  const expireIn = (holdMs: number) => Math.max(holdMs, 1000) + 60_000;

  async function claim(
    nickname: string,
    sid: string,
    holdMs: number,
    claimOptions: ClaimOptions = {},
  ): Promise<boolean> {
    const key = keyOf(nickname);
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await kv.get<Lease>(key);
      const lease = current.value;
      const t = now();
      const mine = lease?.sid === sid || lease?.sid === claimOptions.from;
      if (lease && !mine && lease.until > t) return false;
      let until = t + holdMs;
      if (lease && lease.sid === sid && !claimOptions.exact) {
        until = Math.max(until, lease.until);
      }
      const result = await kv.atomic()
        .check(current)
        .set(key, { sid, nickname, until } satisfies Lease, {
          expireIn: expireIn(until - t),
        })
        .commit();
      if (result.ok) return true;
    }
    return false;
  }

  async function renew(
    leases: { nickname: string; sid: string }[],
    holdMs: number,
  ): Promise<string[]> {
    const lost: string[] = [];
    for (let i = 0; i < leases.length; i += RENEW_CHUNK) {
      const chunk = leases.slice(i, i + RENEW_CHUNK);
      const entries = await getMany(chunk.map((l) => keyOf(l.nickname)));
      let op = kv.atomic();
      const kept: { nickname: string; sid: string }[] = [];
      chunk.forEach((l, j) => {
        const entry = entries[j];
        const lease = entry.value;
        if (lease && lease.sid !== l.sid && lease.until > now()) {
          lost.push(l.nickname);
          return;
        }
        kept.push(l);
        op = op.check(entry).set(
          entry.key,
          { sid: l.sid, nickname: l.nickname, until: now() + holdMs },
          { expireIn: expireIn(holdMs) },
        );
      });
      if (kept.length === 0) continue;
      const result = await op.commit();
      if (!result.ok) {
        // Someone changed one of them meanwhile: settle each on its own.
        for (const l of kept) {
          if (!await claim(l.nickname, l.sid, holdMs)) lost.push(l.nickname);
        }
      }
    }
    return lost;
  }

  async function getMany(keys: Deno.KvKey[]) {
    // kv.getMany reads at most 10 keys per call.
    const out: Deno.KvEntryMaybe<Lease>[] = [];
    for (let i = 0; i < keys.length; i += 10) {
      out.push(...await kv.getMany<Lease[]>(keys.slice(i, i + 10)));
    }
    return out;
  }

  async function release(nickname: string, sid: string): Promise<void> {
    const key = keyOf(nickname);
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await kv.get<Lease>(key);
      if (!current.value || current.value.sid !== sid) return;
      const result = await kv.atomic().check(current).delete(key).commit();
      if (result.ok) return;
    }
  }

  async function holder(nickname: string): Promise<string | undefined> {
    const lease = (await kv.get<Lease>(keyOf(nickname))).value;
    return lease && lease.until > now() ? lease.sid : undefined;
  }

  return { claim, renew, release, holder };
}
