/**
 * A token bucket per address, for wrong moderator passwords. Stands in for
 * the `AddressLimiter` of lib/chat/limits.ts until that lands; the lead may
 * swap it in, the interface is the same idea: take, or say how long to wait.
 *
 * @module
 */

/** How {@linkcode PasswordAttemptLimiter} refills. */
export interface AttemptLimiterOptions {
  /** Attempts an address may make at once. */
  burst: number;
  /** Attempts regained per second. */
  perSecond: number;
  /** Addresses remembered; the longest idle is forgotten first. */
  maxAddresses?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Password attempts per address: one token per attempt, refilled slowly. */
export class PasswordAttemptLimiter {
  #buckets = new Map<string, Bucket>();
  #options: Required<AttemptLimiterOptions>;

  constructor(options: AttemptLimiterOptions) {
    this.#options = { maxAddresses: 10_000, now: Date.now, ...options };
  }

  /** Takes one attempt for `address`: 0 when taken, else the seconds to wait. */
  take(address: string): number {
    const { burst, perSecond, maxAddresses } = this.#options;
    const now = this.#options.now();
    const bucket = this.#buckets.get(address) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(
      burst,
      bucket.tokens + ((now - bucket.at) / 1000) * perSecond,
    );
    bucket.at = now;
    // Re-inserted so the map's order is least recently used first.
    this.#buckets.delete(address);
    this.#buckets.set(address, bucket);
    if (this.#buckets.size > maxAddresses) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / perSecond);
  }

  /** Gives back the attempt a right password took: only wrong ones count. */
  refund(address: string): void {
    const bucket = this.#buckets.get(address);
    if (bucket) {
      bucket.tokens = Math.min(this.#options.burst, bucket.tokens + 1);
    }
  }
}
