/**
 * The 403 a banned upgrade (or API call) gets, with the time left.
 *
 * @module
 */
import type { Context } from "hono";
import { type BanRecord, remainingSeconds } from "../lib/moderation/bans.ts";

/** Words for a ban's time left: "permanently" or "for 9 more minutes". */
export function banSpan(seconds: number | null): string {
  if (seconds === null) return "permanently";
  const minutes = Math.ceil(seconds / 60);
  return minutes < 120
    ? `for ${minutes} more minute${minutes === 1 ? "" : "s"}`
    : `for ${Math.ceil(minutes / 60)} more hours`;
}

/** Seconds a refused upgrade asks to wait when KV did not answer. */
const STORE_RETRY_SECONDS = 5;

/** A 403 saying how long the ban lasts (Retry-After when it ends), or a 503 when bans could not be read. */
export function banResponse(
  c: Context,
  ban: BanRecord | "unavailable",
): Response {
  if (ban === "unavailable") {
    c.header("Retry-After", String(STORE_RETRY_SECONDS));
    return c.text("Service Unavailable: the store did not answer", 503);
  }
  const seconds = remainingSeconds(ban, Date.now());
  if (seconds !== null) c.header("Retry-After", String(seconds));
  return c.text(`Forbidden: you are banned ${banSpan(seconds)}`, 403);
}
