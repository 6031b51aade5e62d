/**
 * The chat room page. It renders the frame; the modules under static/chat/
 * (entry: static/chat/main.js) fill it from the WebSocket. Data reaches the
 * script through data-* attributes and a JSON block, never inline script,
 * so the CSP can forbid inline code.
 *
 * @module
 */
import { raw } from "hono/html";
import { LOBBY } from "../lib/chat/protocol.ts";
import { clientStrings, t } from "../lib/web/i18n.ts";
import type { Lang } from "../lib/web/i18n.ts";
import { Layout } from "./layout.tsx";
import { LangSwitch } from "./lang_switch.tsx";

/**
 * JSON that is safe inside a script element: `<` as \u003c so neither
 * `</script>` nor `<!--` can end the block early; `>` and `&` too so the
 * text stays inert if someone moves it into an attribute
 */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    // Valid in JSON, but line terminators in older JavaScript parsers
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}

/** The chat page for one room, for a signed-in nickname */
export function ChatPage(
  props: {
    lang: Lang;
    nickname: string;
    room: string;
    /** EDIT_WINDOW_MINUTES, so the page offers Edit only while it can work */
    editWindowMinutes?: number;
  },
) {
  const { lang, nickname, room, editWindowMinutes = 15 } = props;
  const roomLabel = room === LOBBY ? t(lang, "room_lobby") : room;
  return (
    <Layout
      lang={lang}
      title={t(lang, "chat_title", { room: roomLabel })}
      scripts={["lang_switch.js", "chat/main.js"]}
      bodyClass="page-chat"
    >
      <a class="skip-link" href="#message-input">{t(lang, "skip_to_input")}</a>
      <div
        id="app"
        class="app"
        data-nickname={nickname}
        data-room={room}
        data-lang={lang}
        data-edit-window-minutes={String(editWindowMinutes)}
      >
        <header class="room-header">
          <div class="room-title">
            <h1 class="room-name" id="room-name">{roomLabel}</h1>
            {/* room moderation: the topic, filled by static/chat/room_rules.js */}
            <p id="room-topic" class="room-topic" hidden></p>
            <span id="online-count" class="online-count"></span>
          </div>
          {
            /* Not a live region: it counts seconds down while reconnecting;
              #conn-live announces each change of state once instead */
          }
          <span id="conn-badge" class="badge badge-connecting">
            {t(lang, "status_connecting")}
          </span>
          <span id="conn-live" class="visually-hidden" role="status"></span>
          <button
            type="button"
            id="panel-toggle"
            class="button panel-toggle"
            aria-controls="side-panel"
            aria-expanded="false"
          >
            <span class="panel-toggle-icon" aria-hidden="true"></span>
            <span class="panel-toggle-text">{t(lang, "panel_toggle")}</span>
          </button>
        </header>

        <main class="chat-main" id="chat-main">
          <div class="log-wrap">
            <div
              id="messages"
              class="messages"
              role="log"
              aria-live="polite"
              aria-label={t(lang, "messages_label")}
              tabindex={0}
            >
            </div>
            <p id="messages-empty" class="messages-empty" hidden>
              {t(lang, "messages_empty")}
            </p>
            <button
              type="button"
              id="new-pill"
              class="new-pill"
              hidden
            >
              {t(lang, "new_messages")}
            </button>
          </div>
          <p id="typing" class="typing"></p>
          <div id="compose-context" class="compose-context" hidden>
            <span id="compose-context-text" class="compose-context-text">
            </span>
            <button
              type="button"
              id="compose-context-cancel"
              class="button small"
            >
              {t(lang, "compose_cancel")}
            </button>
          </div>
          <ul
            id="mention-list"
            class="mention-list"
            role="listbox"
            aria-label={t(lang, "mention_list_label")}
            hidden
          >
          </ul>
          {/* room moderation: slow mode, lock and mute, as the room frame says */}
          <p id="room-rules" class="room-rules" hidden></p>
          <form id="composer" class="composer" autocomplete="off">
            <label for="message-input" class="visually-hidden">
              {t(lang, "message_label")}
            </label>
            <textarea
              id="message-input"
              name="text"
              class="message-input"
              rows={1}
              placeholder={t(lang, "message_placeholder")}
              enterkeyhint="send"
              aria-describedby="composer-hint"
              role="combobox"
              aria-autocomplete="list"
              aria-controls="mention-list"
              aria-expanded="false"
            >
            </textarea>
            <button type="submit" id="send-button" class="button primary">
              {t(lang, "send")}
            </button>
          </form>
          {
            /* Keys only matter with a keyboard: hidden on phones but still
              read out with the input */
          }
          <p id="composer-hint" class="composer-hint">
            {t(lang, "message_hint")}
          </p>
          <noscript>
            <p class="noscript">{t(lang, "noscript")}</p>
          </noscript>
        </main>

        <div id="scrim" class="scrim" hidden></div>
        <aside
          id="side-panel"
          class="side-panel"
          aria-label={t(lang, "panel_toggle")}
        >
          <div class="panel-top">
            <p class="me">
              <span class="me-label">{t(lang, "signed_in_as")}</span>{" "}
              <strong class="me-name">{nickname}</strong>
            </p>
            <button
              type="button"
              id="panel-close"
              class="button panel-close"
            >
              {t(lang, "panel_close")}
            </button>
          </div>
          <section class="panel-section" aria-labelledby="online-heading">
            <h2 id="online-heading" class="panel-heading">
              {t(lang, "online_heading")}
            </h2>
            <ul id="user-list" class="user-list"></ul>
          </section>

          <section class="panel-section" aria-labelledby="rooms-heading">
            <h2 id="rooms-heading" class="panel-heading">
              {t(lang, "rooms_heading")}
            </h2>
            <ul id="room-list" class="room-list" aria-busy="true">
              <li class="quiet">{t(lang, "rooms_loading")}</li>
            </ul>
            <form id="room-form" class="room-form" method="get" action="/chat">
              <label for="room-input" class="field-label">
                {t(lang, "room_form_label")}
              </label>
              <div class="room-form-row">
                <input
                  id="room-input"
                  name="room"
                  type="text"
                  class="text-input"
                  maxlength={64}
                  autocomplete="off"
                  autocapitalize="off"
                  spellcheck={false}
                  placeholder={t(lang, "room_form_placeholder")}
                  aria-describedby="room-error"
                />
                <button type="submit" class="button">
                  {t(lang, "room_form_submit")}
                </button>
              </div>
              <p id="room-error" class="field-error" role="alert" hidden></p>
            </form>
          </section>

          {
            /* room moderation: static/chat/room_controls.js shows it to
              moderators only; the server checks every request anyway */
          }
          <section
            id="mod-section"
            class="panel-section mod-section"
            aria-labelledby="mod-heading"
            hidden
          >
            <h2 id="mod-heading" class="panel-heading">
              {t(lang, "mod_heading")}
            </h2>
            <form id="mod-topic-form" class="mod-form" autocomplete="off">
              <label for="mod-topic" class="field-label">
                {t(lang, "mod_topic_label")}
              </label>
              <input
                id="mod-topic"
                name="topic"
                type="text"
                class="text-input"
                maxlength={200}
                placeholder={t(lang, "mod_topic_placeholder")}
              />
              <div class="mod-row">
                <button type="submit" class="button">
                  {t(lang, "mod_topic_set")}
                </button>
                <button type="button" id="mod-topic-clear" class="button">
                  {t(lang, "mod_topic_clear")}
                </button>
              </div>
            </form>
            <div class="mod-form">
              <label for="mod-slow" class="field-label">
                {t(lang, "mod_slow_label")}
              </label>
              <select id="mod-slow" class="text-input mod-select">
                {[0, 5, 10, 30, 60, 300].map((seconds) => (
                  <option value={String(seconds)}>
                    {seconds === 0
                      ? t(lang, "mod_slow_off")
                      : seconds < 60
                      ? t(lang, "duration_seconds", { seconds })
                      : t(lang, "duration_minutes", { minutes: seconds / 60 })}
                  </option>
                ))}
              </select>
            </div>
            <div class="mod-row">
              <button type="button" id="mod-lock" class="button">
                {t(lang, "mod_lock")}
              </button>
              <a href="/audit" id="mod-audit-link" class="mod-audit-link">
                {t(lang, "mod_audit_link")}
              </a>
            </div>
            <p id="mod-status" class="mod-status" role="status"></p>
          </section>

          {
            /* Logging out is rare and undoes the session: quiet, at the
              foot of the panel, not among the things people do all day */
          }
          <div class="panel-foot">
            <button
              type="button"
              id="notify-toggle"
              class="button secondary"
              aria-pressed="false"
              hidden
            >
              {t(lang, "notify_toggle")}
            </button>
            <LangSwitch lang={lang} />
            <form method="post" action="/logout" class="logout-form">
              <button type="submit" class="button secondary">
                {t(lang, "logout")}
              </button>
            </form>
          </div>
        </aside>
        {
          /* people moderation: the moderator's dialog for kick, mute and
            ban (static/chat/mod_dialog.js fills in the title and the
            confirm button, which names the action and the person) */
        }
        <dialog
          id="mod-dialog"
          class="mod-dialog"
          aria-labelledby="mod-dialog-title"
        >
          <form id="mod-form" class="mod-form" method="dialog">
            <h2 id="mod-dialog-title" class="mod-dialog-title"></h2>
            <fieldset id="mod-duration" class="mod-duration">
              <legend class="field-label">
                {t(lang, "mod_duration_legend")}
              </legend>
              {(["10m", "1h", "1d", "permanent"] as const).map((d) => (
                <label class="mod-choice">
                  <input
                    type="radio"
                    name="duration"
                    value={d}
                    checked={d === "10m"}
                  />{" "}
                  {t(lang, `duration_${d}`)}
                </label>
              ))}
            </fieldset>
            <label for="mod-reason" class="field-label">
              {t(lang, "mod_reason_label")}
            </label>
            <input
              id="mod-reason"
              name="reason"
              type="text"
              class="text-input"
              maxlength={200}
              autocomplete="off"
            />
            <label id="mod-address-row" class="mod-choice">
              <input id="mod-address" name="address" type="checkbox" />{" "}
              {t(lang, "mod_address_label")}
            </label>
            <div class="mod-dialog-buttons">
              <button type="button" id="mod-cancel" class="button">
                {t(lang, "mod_cancel")}
              </button>
              <button type="submit" id="mod-confirm" class="button danger">
              </button>
            </div>
          </form>
        </dialog>
      </div>
      <script type="application/json" id="strings">
        {raw(scriptJson(clientStrings(lang)))}
      </script>
    </Layout>
  );
}
