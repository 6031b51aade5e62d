/**
 * The moderation audit log as a page for moderators (`GET /audit`): one
 * page of entries, newest first, and a link to the older ones. Everything
 * in an entry that a person typed (names, reasons, topics) goes in as text.
 *
 * @module
 */
import type { AuditEntry } from "../lib/moderation/audit_log.ts";
import { t } from "../lib/web/i18n.ts";
import type { Lang, MessageKey } from "../lib/web/i18n.ts";
import { LOBBY } from "../lib/chat/protocol.ts";
import { Layout } from "./layout.tsx";
import { LangSwitch } from "./lang_switch.tsx";

/** The actions the log names in the reader's language; others show as recorded. */
const ACTION_KEYS: Record<string, MessageKey> = {
  kick: "audit_action_kick",
  ban: "audit_action_ban",
  unban: "audit_action_unban",
  mute: "audit_action_mute",
  unmute: "audit_action_unmute",
  slow: "audit_action_slow",
  lock: "audit_action_lock",
  unlock: "audit_action_unlock",
  topic: "audit_action_topic",
  delete: "audit_action_delete",
};

/** A time as this page shows it: in UTC, which the page says, in `lang`. */
function when(lang: Lang, ms: number): string {
  return new Intl.DateTimeFormat(lang, {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone: "UTC",
  }).format(ms);
}

/** What an action changed besides its target: the interval, the topic, the message. */
function detail(lang: Lang, entry: AuditEntry): string {
  if (entry.action === "slow" && entry.seconds !== undefined) {
    const seconds = entry.seconds;
    if (seconds === 0) return t(lang, "mod_slow_off");
    return seconds % 60 === 0
      ? t(lang, "duration_minutes", { minutes: seconds / 60 })
      : t(lang, "duration_seconds", { seconds });
  }
  if (entry.action === "topic" && entry.text !== undefined) {
    return entry.text === "" ? "—" : `“${entry.text}”`;
  }
  if (entry.message !== undefined) {
    return t(lang, "audit_message", { id: entry.message });
  }
  return "";
}

/** A ban's or mute's length and end. */
function until(lang: Lang, entry: AuditEntry): string {
  if (entry.until === null) return t(lang, "audit_permanent");
  const end = entry.until === undefined ? "" : when(lang, entry.until);
  return [entry.duration, end].filter(Boolean).join(" · ");
}

/** One audit entry as a table row. */
function Row(props: { lang: Lang; entry: AuditEntry }) {
  const { lang, entry } = props;
  const key = ACTION_KEYS[entry.action];
  const more = detail(lang, entry);
  const room = entry.room === LOBBY ? t(lang, "room_lobby") : entry.room;
  return (
    <tr>
      <td class="audit-when">
        <time datetime={new Date(entry.at).toISOString()}>
          {when(lang, entry.at)}
        </time>
      </td>
      <td>{entry.by}</td>
      <td>
        {key ? t(lang, key) : entry.action}
        {more ? <span class="audit-detail">{more}</span> : null}
      </td>
      <td>{entry.target ?? ""}</td>
      <td>{room ?? ""}</td>
      <td>{entry.reason ?? ""}</td>
      <td>{until(lang, entry)}</td>
    </tr>
  );
}

/** A page of the audit log; `older` links to the next page, `paged` says this is not the newest. */
export function AuditPage(
  props: { lang: Lang; entries: AuditEntry[]; older?: string; paged: boolean },
) {
  const { lang, entries, older, paged } = props;
  return (
    <Layout
      lang={lang}
      title={`${t(lang, "audit_title")} · ${t(lang, "app_name")}`}
      scripts={["lang_switch.js"]}
      bodyClass="page-audit"
    >
      <header class="audit-head">
        <h1>{t(lang, "audit_title")}</h1>
        <a href="/chat">{t(lang, "not_found_back")}</a>
      </header>
      <main>
        <p class="help">{t(lang, "audit_explain")}</p>
        {entries.length === 0
          ? <p class="quiet">{t(lang, "audit_empty")}</p>
          : (
            <div class="audit-scroll">
              <table class="audit-table" id="audit-table">
                <thead>
                  <tr>
                    <th scope="col">{t(lang, "audit_when")}</th>
                    <th scope="col">{t(lang, "audit_who")}</th>
                    <th scope="col">{t(lang, "audit_action")}</th>
                    <th scope="col">{t(lang, "audit_whom")}</th>
                    <th scope="col">{t(lang, "audit_room")}</th>
                    <th scope="col">{t(lang, "audit_reason")}</th>
                    <th scope="col">{t(lang, "audit_until")}</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((entry) => (
                    <Row key={entry.id} lang={lang} entry={entry} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        <nav class="audit-nav" aria-label={t(lang, "audit_title")}>
          {paged ? <a href="/audit">{t(lang, "audit_newest")}</a> : null}
          {older
            ? (
              <a href={older} rel="next" id="audit-older">
                {t(lang, "audit_older")}
              </a>
            )
            : entries.length > 0 && paged
            ? <span class="quiet">{t(lang, "audit_end")}</span>
            : null}
        </nav>
        <LangSwitch lang={lang} />
      </main>
    </Layout>
  );
}
