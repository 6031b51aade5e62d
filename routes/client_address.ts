/**
 * The client's address for a Hono request, as the per-address limits count
 * it (see lib/web/client_address.ts for when X-Forwarded-For is believed).
 *
 * @module
 */
import type { Context } from "hono";
import { getConnInfo } from "hono/deno";
import type { AddressResolver } from "../lib/web/client_address.ts";

/** The address a request is counted against. */
export function clientAddress(c: Context, resolve: AddressResolver): string {
  // Without Deno.serve's handler info (a test calling app.fetch) there is no address.
  const remote = c.env ? getConnInfo(c).remote.address : undefined;
  if (remote === undefined) return "unknown";
  return resolve(remote, c.req.header("x-forwarded-for"));
}
