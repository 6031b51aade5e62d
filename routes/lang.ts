/**
 * Picks the reader's language for a request.
 *
 * @module
 */
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { type Lang, pickLang } from "../lib/web/i18n.ts";

/** The language for this request: the `lang` cookie, else Accept-Language. */
export function langOf(c: Context): Lang {
  let cookie: string | undefined;
  try {
    cookie = getCookie(c, "lang");
  } catch {
    cookie = undefined;
  }
  return pickLang(cookie, c.req.header("accept-language"));
}
