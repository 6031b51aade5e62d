/**
 * The per-address limit on the JSON reads that cost the store the most:
 * scrollback pages and unread counts read many KV entries each, so a
 * script asking in a loop is held to what a page needs (SCROLLBACK_RATE_*).
 *
 * @module
 */
import type { Context } from "hono";
import type { Services } from "../lib/app/services.ts";
import { countRateLimited } from "../lib/app/telemetry.ts";
import { AddressLimiter } from "../lib/chat/limits.ts";
import { clientAddress } from "./client_address.ts";

/** Addresses whose buckets are held at once; idle ones go first. */
const MAX_READERS = 10000;

/** Answers 429 with `Retry-After` when the caller's address has no token left, else undefined. */
export type ApiLimit = (c: Context) => Response | undefined;

/** A limiter for one route's reads, with its own bucket per address. */
export function createApiLimit(services: Services): ApiLimit {
  const { limits } = services.config;
  const readers = new AddressLimiter({
    burst: limits.scrollbackBurst,
    perSecond: limits.scrollbackPerSecond,
    maxAddresses: MAX_READERS,
  });
  return (c) => {
    const address = clientAddress(c, services.resolveAddress);
    const wait = readers.take(address, Date.now());
    if (wait <= 0) return undefined;
    countRateLimited("scrollback");
    const seconds = Math.ceil(wait);
    c.header("Retry-After", String(seconds));
    return c.json({
      error: `Too many requests: wait ${seconds} s before asking again`,
      retryAfter: seconds,
    }, 429);
  };
}
