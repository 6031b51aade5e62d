// @ts-check
/**
 * The moderators' room controls in the side panel: the topic, slow mode,
 * the lock and a link to the audit log. They are shown only when the room
 * frame says this session is a moderator's, and they only ask: the server
 * checks every `mod` frame, answers `mod_ok` or an error, and tells every
 * member the new rules in a `room` frame.
 *
 * @module
 */
import { byId } from "./page.js";
import { durationText } from "./room_rules.js";

/** How long a request may go unanswered before the panel says so */
const ANSWER_MS = 8000;

/** The actions these controls send; other `mod_ok` answers are not theirs */
const OWN_ACTIONS = new Set(["topic", "slow", "lock", "unlock"]);

/**
 * Wires the Moderation section of the panel.
 * @param {{
 *   s: import("./page.js").Translate,
 *   roomState: import("./room_state.js").RoomState,
 *   send: (frame: unknown) => boolean,
 * }} options `send` is false when there was no socket to send on
 */
export function createRoomControls({ s, roomState, send }) {
  const section = byId("mod-section");
  const topicForm = /** @type {HTMLFormElement} */ (byId("mod-topic-form"));
  const topicInput = /** @type {HTMLInputElement} */ (byId("mod-topic"));
  const topicClear = byId("mod-topic-clear");
  const slow = /** @type {HTMLSelectElement} */ (byId("mod-slow"));
  const lock = byId("mod-lock");
  const status = byId("mod-status");
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** The topic the box last showed from the server, to tell edits apart */
  let shownTopic = "";

  /**
   * @param {string} text
   * @param {"" | "ok" | "error"} kind
   */
  function say(text, kind) {
    status.textContent = text;
    status.classList.toggle("mod-status-ok", kind === "ok");
    status.classList.toggle("mod-status-error", kind === "error");
  }

  /** @param {Record<string, unknown>} frame */
  function request(frame) {
    clearTimeout(timer);
    if (!send({ type: "mod", ...frame })) {
      say(s("mod_error_offline"), "error");
      show(roomState.rules);
      return;
    }
    say(s("mod_sending"), "");
    timer = setTimeout(() => {
      say(s("mod_error_no_answer"), "error");
      show(roomState.rules);
    }, ANSWER_MS);
  }

  /** @param {number} seconds */
  function selectSlow(seconds) {
    const value = String(seconds);
    // Another moderator may have chosen an interval the list lacks
    if (![...slow.options].some((o) => o.value === value)) {
      slow.add(new Option(durationText(s, seconds), value));
    }
    slow.value = value;
  }

  /** @param {import("./room_state.js").RoomRules} rules */
  function show(rules) {
    section.hidden = !rules.moderator;
    // Leave a topic being typed alone; follow the server otherwise
    if (
      topicInput.value === shownTopic || document.activeElement !== topicInput
    ) {
      topicInput.value = rules.topic;
    }
    shownTopic = rules.topic;
    selectSlow(rules.slowSeconds);
    lock.textContent = s(rules.locked ? "mod_unlock" : "mod_lock");
  }

  topicForm.addEventListener("submit", (event) => {
    event.preventDefault();
    request({ action: "topic", text: topicInput.value.trim() });
  });
  topicClear.addEventListener("click", () => {
    topicInput.value = "";
    request({ action: "topic", text: "" });
  });
  slow.addEventListener("change", () => {
    request({ action: "slow", seconds: Number(slow.value) });
  });
  lock.addEventListener("click", () => {
    request({ action: roomState.rules.locked ? "unlock" : "lock" });
  });
  roomState.listen(show);

  return {
    /**
     * Takes the server's answer to a `mod` frame: a `mod_ok`, or an
     * `error` naming the action; those of the room's rules are shown here.
     * @param {Record<string, any>} answer
     */
    answered(answer) {
      const action = String(answer.action);
      if (!OWN_ACTIONS.has(action)) return;
      if (answer.type === "error") {
        const code = String(answer.code ?? "").slice(0, 32);
        say(s("mod_error_refused", { code }), "error");
      } else say(doneText(s, answer), "ok");
      clearTimeout(timer);
      show(roomState.rules);
    },
  };
}

/**
 * What a `mod_ok` for the room's rules reads as.
 * @param {import("./page.js").Translate} s
 * @param {Record<string, any>} answer
 */
function doneText(s, answer) {
  switch (answer.action) {
    case "topic":
      return s(answer.topic ? "mod_done_topic" : "mod_done_topic_cleared");
    case "slow": {
      const seconds = Number(answer.slowSeconds) || 0;
      return seconds > 0
        ? s("mod_done_slow", { duration: durationText(s, seconds) })
        : s("mod_done_slow_off");
    }
    case "lock":
      return s("mod_done_lock");
    default:
      return s("mod_done_unlock");
  }
}
