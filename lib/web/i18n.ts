/**
 * The pages' languages: which one a reader gets, and their strings
 * (lib/web/strings/, one dictionary per language) filled in.
 *
 * Placeholders are written `{name}` and filled by {@linkcode t} on the server
 * and by the same rule in the browser (static/chat/text.js), so the client gets
 * the raw templates from {@linkcode clientStrings}.
 *
 * @module
 */
import { EN, type MessageKey } from "./strings/en.ts";
import { ZH_CN } from "./strings/zh_cn.ts";

export type { MessageKey };

/** A language the pages are available in */
export type Lang = "en" | "zh-CN";

/** Every supported language, English (the default) first */
export const LANGS: readonly Lang[] = ["en", "zh-CN"];

/** Why the login page is shown again, each with its own sentence */
export type LoginHint =
  | "nick_empty"
  | "nick_too_long"
  | "nick_bad_chars"
  | "nick_taken"
  | "session_lost"
  | "too_many_logins"
  | "store_unavailable"
  | "password_needed"
  | "password_wrong"
  | "password_rate_limited"
  | "banned"
  | "banned_permanent";

const DICTIONARIES: Record<Lang, Record<MessageKey, string>> = {
  "en": EN,
  "zh-CN": ZH_CN,
};

// The strings the modules in static/chat/ and static/lang_switch.js look up at run time;
// the rest are only used while rendering on the server
const CLIENT_KEYS: readonly MessageKey[] = [
  // room moderation
  "duration_seconds",
  "duration_minutes",
  "rules_slow",
  "rules_locked",
  "rules_muted_until",
  "rules_muted",
  "composer_locked",
  "composer_muted_until",
  "composer_muted",
  "mod_lock",
  "mod_unlock",
  "mod_sending",
  "mod_done_topic",
  "mod_done_topic_cleared",
  "mod_done_slow",
  "mod_done_slow_off",
  "mod_done_lock",
  "mod_done_unlock",
  "mod_error_offline",
  "mod_error_no_answer",
  "mod_error_refused",
  "chat_title",
  "room_lobby",
  "online_count",
  "you_marker",
  "rooms_error",
  "room_users",
  "room_form_invalid",
  "messages_empty",
  "new_messages",
  "status_connecting",
  "status_connected",
  "status_reconnecting",
  "status_reconnecting_now",
  "status_offline",
  "event_join",
  "event_leave",
  "typing_one",
  "typing_many",
  "typing_list_separator",
  "notice_missed",
  "notice_restarting",
  "notice_not_sent",
  "notice_sending",
  "close_policy",
  "close_too_big",
  "close_too_slow",
  "error_bad_request",
  "error_too_long",
  "error_empty",
  "error_rate_limited",
  "error_rate_limited_wait",
  "error_internal",
  "error_muted",
  "error_room_locked",
  "error_slow_mode",
  "close_kicked",
  "close_banned",
  "error_unknown",
  "unread_title",
  "day_today",
  "day_yesterday",
  "history_start",
  "history_loading",
  "history_error",
  "unread_divider",
  "msg_edited",
  "msg_deleted",
  "msg_deleted_moderator",
  "actions_label",
  "action_react",
  "action_reply",
  "action_edit",
  "action_delete",
  "action_delete_confirm",
  "reaction_palette_label",
  "reaction_other_label",
  "reaction_other_add",
  "reaction_invalid",
  "reaction_who",
  "replying_to",
  "editing",
  "compose_cancel",
  "reply_goto",
  "reply_gone",
  "jump_missing",
  "notify_denied",
  "notify_title",
  "mention_title",
  "room_unread",
  "room_unread_capped",
  "room_mentions",
  "error_not_found",
  "error_forbidden",
  "error_edit_window_closed",
  "error_too_many_reactions",
  // people moderation: badges, the user menu, the moderation dialog, the ignore list
  "mod_badge",
  "mod_badge_label",
  "user_menu_label",
  "menu_ignore",
  "menu_unignore",
  "menu_kick",
  "menu_mute",
  "menu_ban",
  "menu_unmute",
  "menu_unban",
  "ignored_notice",
  "unignored_notice",
  "notice_undo",
  "msg_ignored",
  "msg_ignored_show",
  "mod_title_kick",
  "mod_title_mute",
  "mod_title_ban",
  "mod_confirm_kick",
  "mod_confirm_mute",
  "mod_confirm_mute_permanent",
  "mod_confirm_ban",
  "mod_confirm_ban_permanent",
  "duration_10m",
  "duration_1h",
  "duration_1d",
  "duration_permanent",
  "mod_done_kick",
  "mod_done_mute",
  "mod_done_mute_permanent",
  "mod_done_ban",
  "mod_done_ban_permanent",
  "mod_done_unmute",
  "mod_done_unban",
  "mod_error_bad_target",
  "mod_error_not_found_unmute",
  "mod_error_not_found_unban",
  "mod_error_not_found",
  "mod_error_bad_request",
  "mod_error_forbidden",
  "mod_error_internal",
];

/** Whether a string names a supported language exactly */
export function isLang(value: unknown): value is Lang {
  return typeof value === "string" &&
    (LANGS as readonly string[]).includes(value);
}

// Maps one BCP 47 tag to the language that serves its reader, if any.
// Every Chinese variant gets Simplified Chinese: we have no Traditional
// dictionary and it is still far closer than English for those readers.
function matchTag(tag: string): Lang | undefined {
  const primary = tag.trim().toLowerCase().split("-")[0];
  if (primary === "en") return "en";
  if (primary === "zh") return "zh-CN";
  return undefined;
}

/**
 * Chooses the page language: the `lang` cookie wins when it is valid,
 * then the best match in Accept-Language, then English.
 */
export function pickLang(
  cookieValue: string | undefined,
  acceptLanguage: string | undefined,
): Lang {
  if (cookieValue !== undefined) {
    // The cookie is set by our own switch, but tolerate a changed case
    const fromCookie = LANGS.find((l) =>
      l.toLowerCase() === cookieValue.trim().toLowerCase()
    );
    if (fromCookie) return fromCookie;
  }
  if (!acceptLanguage) return "en";
  // A browser sends a few dozen bytes; ignore the tail of an absurd header
  // rather than spend time on it
  const ranges = acceptLanguage.slice(0, 4096).split(",");
  let best: { lang: Lang; q: number; index: number } | undefined;
  ranges.forEach((range, index) => {
    const [tag, ...params] = range.split(";");
    let q = 1;
    for (const param of params) {
      const [name, value] = param.split("=").map((s) => s.trim());
      if (name.toLowerCase() === "q") {
        q = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value ?? "")
          ? Number(value)
          : 0; // A malformed weight is treated as "not acceptable"
      }
    }
    if (q <= 0) return;
    const lang = matchTag(tag);
    if (!lang) return;
    // Higher weight wins; among equal weights the header order decides
    if (!best || q > best.q) best = { lang, q, index };
  });
  return best?.lang ?? "en";
}

/**
 * Looks up a string in the reader's language and fills `{name}` placeholders
 * from `vars`; an unknown placeholder is left as written so it shows up in
 * review instead of vanishing.
 */
export function t(
  lang: Lang,
  key: MessageKey,
  vars?: Record<string, string | number>,
): string {
  const template = DICTIONARIES[lang][key] ?? EN[key];
  if (!vars) return template;
  return template.replace(
    /\{([a-z_]+)\}/g,
    (whole, name: string) =>
      Object.hasOwn(vars, name) ? String(vars[name]) : whole,
  );
}

/** The strings the browser needs, unfilled, to embed in the page as JSON */
export function clientStrings(lang: Lang): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of CLIENT_KEYS) out[key] = DICTIONARIES[lang][key];
  return out;
}

/** Every key of the dictionaries, for tests that compare languages */
export function messageKeys(): MessageKey[] {
  return Object.keys(EN) as MessageKey[];
}

/** The raw dictionary of one language, for tests */
export function dictionary(lang: Lang): Readonly<Record<MessageKey, string>> {
  return DICTIONARIES[lang];
}
