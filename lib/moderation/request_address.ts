/**
 * The address a request came from, for address bans and the password
 * limiter. Until routes/client_address.ts (TRUSTED_PROXIES) lands this is
 * the peer's address; the lead swaps that module in at the merge.
 *
 * @module
 */
import type { Context } from "hono";
import { getConnInfo } from "hono/deno";

/** The peer address of `c`, or "unknown" without Deno.serve's info (app.fetch in a test). */
export function requestAddress(c: Context): string {
  if (!c.env) return "unknown";
  return getConnInfo(c).remote.address ?? "unknown";
}
