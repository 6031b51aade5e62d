/**
 * Sessions ended by logout. A signed cookie stays valid until it expires,
 * so a copy taken before logout must be refused explicitly.
 *
 * @module
 */
import { KEYS } from "./keys.ts";

/** Remembers ended sessions until their cookies would have expired anyway. */
export interface Revocations {
  /** Refuses `sid` from now on, on every instance. */
  revoke(sid: string): Promise<void>;
  /** Whether `sid` was ended by logout. */
  isRevoked(sid: string): Promise<boolean>;
}

/** Revocations in Deno KV, shared by every instance. */
export function createKvRevocations(
  kv: Deno.Kv,
  options: { ttlMs: number },
): Revocations {
  return {
    async revoke(sid) {
      await kv.set(KEYS.revoked(sid), true, { expireIn: options.ttlMs });
    },
    async isRevoked(sid) {
      return (await kv.get(KEYS.revoked(sid))).value === true;
    },
  };
}
