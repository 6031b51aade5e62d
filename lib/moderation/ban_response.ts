/**
 * The 403 a banned upgrade (or API call) gets, with the time left.
 *
 * @module
 */
import type { Context } from "hono";
import { type BanRecord, remainingSeconds } from "./bans.ts";

/** Words for a ban's time left: "permanently" or "for 9 more minutes". */
export function banSpan(seconds: number | null): string {
  if (seconds === null) return "permanently";
  const minutes = Math.ceil(seconds / 60);
  return minutes < 120
    ? `for ${minutes} more minute${minutes === 1 ? "" : "s"}`
    : `for ${Math.ceil(minutes / 60)} more hours`;
}

/** A 403 saying how long the ban lasts; Retry-After when it ends. */
export function banResponse(c: Context, ban: BanRecord): Response {
  const seconds = remainingSeconds(ban, Date.now());
  if (seconds !== null) c.header("Retry-After", String(seconds));
  return c.text(`Forbidden: you are banned ${banSpan(seconds)}`, 403);
}
