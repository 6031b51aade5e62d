/**
 * Limits that keep one user or one address from taking the room down:
 * token buckets for messages and logins, counters for open connections.
 *
 * @module
 */

/** A token bucket: `burst` tokens, refilled at `perSecond`. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly burst: number;
  readonly perSecond: number;

  constructor(options: { burst: number; perSecond: number; now: number }) {
    this.burst = options.burst;
    this.perSecond = options.perSecond;
    this.#tokens = options.burst;
    this.#last = options.now;
  }

  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(
        this.burst,
        this.#tokens + (now - this.#last) / 1000 * this.perSecond,
      );
    }
    // A clock that goes backwards never mints tokens.
    this.#last = Math.max(this.#last, now);
  }

  /** Takes one token; returns 0 on success, else the seconds until one is free. */
  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return (1 - this.#tokens) / this.perSecond;
  }

  /** Gives back a token taken for something that did not count (a right password). */
  refund(): void {
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }

  /** Whether it has refilled completely by `now`: dropping it loses nothing. */
  isFull(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }
}

/** A token bucket per address, at most `maxAddresses` of them held at once. */
export class AddressLimiter {
  #buckets = new Map<string, TokenBucket>();
  readonly burst: number;
  readonly perSecond: number;
  readonly maxAddresses: number;

  constructor(
    options: { burst: number; perSecond: number; maxAddresses: number },
  ) {
    this.burst = options.burst;
    this.perSecond = options.perSecond;
    this.maxAddresses = Math.max(1, options.maxAddresses);
  }

  /** Takes a token for `address`; returns 0 on success, else the seconds until one is free. */
  take(address: string, now: number): number {
    let bucket = this.#buckets.get(address);
    if (!bucket) {
      if (this.#buckets.size >= this.maxAddresses) this.#prune(now);
      bucket = new TokenBucket({
        burst: this.burst,
        perSecond: this.perSecond,
        now,
      });
      this.#buckets.set(address, bucket);
    }
    return bucket.take(now);
  }

  /** Gives back the token `address` took last, when what it paid for did not count. */
  refund(address: string): void {
    this.#buckets.get(address)?.refund();
  }

  /** Addresses held now. */
  get size(): number {
    return this.#buckets.size;
  }

  #prune(now: number): void {
    for (const [address, bucket] of this.#buckets) {
      if (bucket.isFull(now)) this.#buckets.delete(address);
    }
    // Still full of busy addresses: the oldest tenth goes, so memory stays
    // bounded and the next new address does not scan the map again at once.
    const keep = Math.floor(this.maxAddresses * 0.9);
    for (const address of this.#buckets.keys()) {
      if (this.#buckets.size <= keep) break;
      this.#buckets.delete(address);
    }
  }
}

/** Why an upgrade was refused before it happened. */
export type ConnectionRefusal = "per_ip" | "total";

/** Counts open sockets per address and in total. */
export class ConnectionCounter {
  #perIp = new Map<string, number>();
  #total = 0;
  readonly maxPerIp: number;
  readonly maxTotal: number;

  constructor(options: { maxPerIp: number; maxTotal: number }) {
    this.maxPerIp = options.maxPerIp;
    this.maxTotal = options.maxTotal;
  }

  /** Reserves a slot for `ip`, or says why not. */
  acquire(ip: string): ConnectionRefusal | undefined {
    if (this.#total >= this.maxTotal) return "total";
    const count = this.#perIp.get(ip) ?? 0;
    if (count >= this.maxPerIp) return "per_ip";
    this.#perIp.set(ip, count + 1);
    this.#total++;
    return undefined;
  }

  /** Frees a slot taken by {@linkcode ConnectionCounter.acquire}. */
  release(ip: string): void {
    const count = this.#perIp.get(ip);
    if (count === undefined) return;
    if (count <= 1) this.#perIp.delete(ip);
    else this.#perIp.set(ip, count - 1);
    this.#total--;
  }

  /** Open sockets in total. */
  get total(): number {
    return this.#total;
  }

  /** Addresses with at least one open socket. */
  get addresses(): number {
    return this.#perIp.size;
  }
}
