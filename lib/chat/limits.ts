/**
 * Limits that keep one user or one address from taking the room down:
 * a token bucket for messages and counters for open connections.
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
