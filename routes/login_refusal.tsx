/**
 * The login page again when moderation refuses a login: the password
 * field for a moderator's name, or why not (wrong, too many tries, banned).
 * The password typed is never echoed.
 *
 * @module
 */
import type { Context } from "hono";
import type { Lang } from "../lib/web/i18n.ts";
import { LoginPage } from "../templates/login_page.tsx";
import type { LoginVerdict } from "../lib/moderation/login_gate.ts";

/** The answer to a refused login: 401 for the password, 429 when rate limited, 403 when banned. */
export function loginRefusal(
  c: Context,
  options: { lang: Lang; verdict: Exclude<LoginVerdict, { kind: "ok" }> },
): Response | Promise<Response> {
  const { lang, verdict } = options;
  if (verdict.kind === "banned") {
    if (verdict.seconds !== null) {
      c.header("Retry-After", String(verdict.seconds));
    }
    const minutes = verdict.seconds === null
      ? undefined
      : Math.ceil(verdict.seconds / 60);
    return c.html(
      <LoginPage
        lang={lang}
        hint={minutes === undefined ? "banned_permanent" : "banned"}
        minutes={minutes}
      />,
      403,
    );
  }
  if (verdict.kind === "password_rate_limited") {
    c.header("Retry-After", String(verdict.seconds));
  }
  return c.html(
    <LoginPage
      lang={lang}
      value={verdict.nickname}
      hint={verdict.kind}
      password
      minutes={verdict.kind === "password_rate_limited"
        ? Math.ceil(verdict.seconds / 60)
        : undefined}
    />,
    verdict.kind === "password_rate_limited" ? 429 : 401,
  );
}
