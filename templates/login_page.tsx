/**
 * The page where a person picks a nickname.
 *
 * @module
 */
import { t } from "../lib/web/i18n.ts";
import type { Lang, LoginHint, MessageKey } from "../lib/web/i18n.ts";
import { MAX_NICKNAME_LENGTH } from "../lib/auth/nicknames.ts";
import { CardPage } from "./card_page.tsx";

const HINT_KEYS: Record<LoginHint, MessageKey> = {
  nick_empty: "hint_nick_empty",
  nick_too_long: "hint_nick_too_long",
  nick_bad_chars: "hint_nick_bad_chars",
  nick_taken: "hint_nick_taken",
  session_lost: "hint_session_lost",
  too_many_logins: "hint_too_many_logins",
  store_unavailable: "hint_store_unavailable",
  password_needed: "hint_password_needed",
  password_wrong: "hint_password_wrong",
  password_rate_limited: "hint_password_rate_limited",
  banned: "hint_banned",
  banned_permanent: "hint_banned_permanent",
};

/** The login form, with the typed value kept and a hint when one is set */
export function LoginPage(props: {
  lang: Lang;
  value?: string;
  hint?: LoginHint;
  /** Show the password field: the nickname is a moderator's. */
  password?: boolean;
  /** For hints that say how long to wait. */
  minutes?: number;
}) {
  const { lang, hint } = props;
  // Only the nick_ hints are about what was typed in the field
  const fieldProblem = hint?.startsWith("nick_") ?? false;
  const passwordProblem = hint?.startsWith("password_") ?? false;
  const describedBy = hint ? "nickname-help nickname-hint" : "nickname-help";
  return (
    <CardPage lang={lang} title="login_title">
      <form method="post" action="/login" class="login-form">
        <label for="nickname" class="field-label">
          {t(lang, "login_label")}
        </label>
        <p id="nickname-help" class="help">{t(lang, "login_explain")}</p>
        {hint && (
          <p id="nickname-hint" class="hint" role="alert">
            {t(lang, HINT_KEYS[hint], {
              max: MAX_NICKNAME_LENGTH,
              minutes: props.minutes ?? 0,
            })}
          </p>
        )}
        <input
          id="nickname"
          name="nickname"
          type="text"
          class="text-input"
          value={props.value ?? ""}
          // maxlength counts UTF-16 units: twice the limit in code points
          // lets 24 emoji or rare CJK characters through; the server
          // checks the real limit
          maxlength={MAX_NICKNAME_LENGTH * 2}
          required
          autocomplete="nickname"
          autocapitalize="off"
          spellcheck={false}
          aria-describedby={describedBy}
          aria-invalid={fieldProblem ? "true" : undefined}
          autofocus={hint !== undefined && !props.password}
        />
        {props.password && (
          <>
            <label for="password" class="field-label">
              {t(lang, "login_password_label")}
            </label>
            {
              /* Never given a value: a password is not sent back in a page */
            }
            <input
              id="password"
              name="password"
              type="password"
              class="text-input"
              required
              autocomplete="current-password"
              aria-describedby={hint ? "nickname-hint" : undefined}
              aria-invalid={passwordProblem ? "true" : undefined}
              autofocus
            />
          </>
        )}
        <button type="submit" class="button primary">
          {t(lang, "login_submit")}
        </button>
      </form>
    </CardPage>
  );
}
