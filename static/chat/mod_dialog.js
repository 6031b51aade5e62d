// @ts-check
/**
 * A moderator's actions on a person: the dialog that asks how long (mute,
 * ban), why (optional) and whether to ban their address too, and confirms
 * with a button naming the action and the person ("Ban bo for 1 hour");
 * then the `mod` frame, and a notice in the log once the server answers.
 * Kick asks for a confirmation and a reason alone; unmute and unban go at
 * once, as they only undo, from the menu or the Undo of the notice that
 * said it was done (a banned person is no longer in the user list).
 *
 * An `error` frame does not say what it answers, and `not_found` and
 * `forbidden` also answer changes to messages, so the actions sent here are
 * remembered until answered: an error while one waits is its refusal.
 *
 * @module
 */
import { byId } from "./page.js";
import { createClock } from "./text.js";

/** The `mod` actions this module answers for; the room's rules are room_controls.js's */
const PEOPLE_ACTIONS = new Set([
  "kick",
  "mute",
  "ban",
  "unmute",
  "unban",
  "delete",
]);

/**
 * @typedef {"kick" | "mute" | "ban"} AskedAction
 * @typedef {"unmute" | "unban"} UndoAction
 * @typedef {AskedAction | UndoAction} PersonAction
 * @typedef {"10m" | "1h" | "1d" | "permanent"} Duration
 */

/**
 * The `mod` frame for an action on `nickname`, with only the fields the
 * action takes (the server refuses others).
 * @param {PersonAction} action
 * @param {string} nickname
 * @param {{ duration?: Duration, reason?: string, address?: boolean }} [options]
 * @returns {Record<string, unknown>}
 */
export function modFrame(action, nickname, options = {}) {
  /** @type {Record<string, unknown>} */
  const frame = { type: "mod", action, nickname };
  if ((action === "mute" || action === "ban") && options.duration) {
    frame.duration = options.duration;
  }
  const reason = options.reason?.trim() ?? "";
  if (reason !== "") frame.reason = [...reason].slice(0, 200).join("");
  if (action === "ban" && options.address === true) frame.address = true;
  return frame;
}

/**
 * Takes over #mod-dialog and sends through `send` (false: not connected).
 * @param {{ s: import("./page.js").Translate, lang: string,
 *   log: import("./message_log.js").MessageLog,
 *   send: (frame: unknown) => boolean }} options
 */
export function createModDialog({ s, lang, log, send }) {
  const clock = createClock(lang);
  const dialog = /** @type {HTMLDialogElement} */ (byId("mod-dialog"));
  const form = /** @type {HTMLFormElement} */ (byId("mod-form"));
  const title = byId("mod-dialog-title");
  const durations = byId("mod-duration");
  const reason = /** @type {HTMLInputElement} */ (byId("mod-reason"));
  const addressRow = byId("mod-address-row");
  const address = /** @type {HTMLInputElement} */ (byId("mod-address"));
  const confirm = byId("mod-confirm");
  /** @type {{ action: AskedAction, nickname: string } | undefined} */
  let asking;
  /** @type {() => HTMLElement | null | undefined} */
  let returnFocus = () => undefined;

  /** @returns {Duration} */
  function duration() {
    const checked = form.querySelector("input[name=duration]:checked");
    const value = checked instanceof HTMLInputElement ? checked.value : "10m";
    return value === "1h" || value === "1d" || value === "permanent"
      ? value
      : "10m";
  }

  /** @param {Duration} d */
  function durationText(d) {
    if (d === "1h") return s("duration_1h");
    if (d === "1d") return s("duration_1d");
    return s("duration_10m");
  }

  function renderConfirm() {
    if (!asking) return;
    const { action, nickname } = asking;
    const d = duration();
    if (action === "kick") {
      confirm.textContent = s("mod_confirm_kick", { nickname });
    } else if (action === "mute") {
      confirm.textContent = d === "permanent"
        ? s("mod_confirm_mute_permanent", { nickname })
        : s("mod_confirm_mute", { nickname, duration: durationText(d) });
    } else {
      confirm.textContent = d === "permanent"
        ? s("mod_confirm_ban_permanent", { nickname })
        : s("mod_confirm_ban", { nickname, duration: durationText(d) });
    }
  }

  /**
   * Sends a `mod` frame; the server's answer names the action and person.
   * @param {Record<string, unknown>} frame
   */
  function dispatch(frame) {
    if (!send(frame)) log.notice(s("status_offline"), "error");
  }

  /**
   * @param {unknown} until
   * @param {"mute" | "ban"} action
   * @param {string} nickname
   */
  function untilText(until, action, nickname) {
    if (typeof until !== "number") {
      return action === "mute"
        ? s("mod_done_mute_permanent", { nickname })
        : s("mod_done_ban_permanent", { nickname });
    }
    const time = clock.short(until);
    return action === "mute"
      ? s("mod_done_mute", { nickname, time })
      : s("mod_done_ban", { nickname, time });
  }

  /** Closes the dialog and gives the focus back at once, not a task later */
  function finish() {
    if (!asking) return;
    asking = undefined;
    if (dialog.open) dialog.close();
    // Back to the name the menu was opened from, or wherever is sensible
    const back = returnFocus();
    if (back?.isConnected) back.focus();
    else byId("message-input").focus();
  }

  form.addEventListener("change", renderConfirm);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!asking) return;
    const { action, nickname } = asking;
    dispatch(
      modFrame(action, nickname, {
        duration: duration(),
        reason: reason.value,
        address: address.checked,
      }),
    );
    finish();
  });
  byId("mod-cancel").addEventListener("click", finish);
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    finish();
  });
  // Should the browser close it anyway (a second Escape may), the same
  dialog.addEventListener("close", finish);

  /**
   * Says why the server refused `action` (on `nickname`, when known).
   * @param {string} code
   * @param {string} action
   * @param {string} nickname
   */
  function refused(code, action, nickname) {
    if (code === "bad_target") {
      log.notice(s("mod_error_bad_target"), "error");
    } else if (code === "not_found") {
      log.notice(
        action === "delete"
          ? s("error_not_found")
          : action === "unmute"
          ? s("mod_error_not_found_unmute", { nickname })
          : action === "unban"
          ? s("mod_error_not_found_unban", { nickname })
          : s("mod_error_not_found", { nickname }),
        "error",
      );
    } else if (code === "bad_request") {
      log.notice(s("mod_error_bad_request"), "error");
    } else if (code === "forbidden") {
      log.notice(s("mod_error_forbidden"), "error");
    } else if (code === "internal") {
      log.notice(s("mod_error_internal"), "error");
    } else {
      log.notice(s("error_unknown", { code: code.slice(0, 32) }), "error");
    }
  }

  return {
    /**
     * Opens the dialog for kicking, muting or banning `nickname`;
     * `returnFocus` finds the element to focus once it closes.
     * @param {AskedAction} action
     * @param {string} nickname
     * @param {{ returnFocus?: () => HTMLElement | null | undefined }} [options]
     */
    ask(action, nickname, options = {}) {
      asking = { action, nickname };
      returnFocus = options.returnFocus ?? (() => undefined);
      title.textContent = action === "kick"
        ? s("mod_title_kick", { nickname })
        : action === "mute"
        ? s("mod_title_mute", { nickname })
        : s("mod_title_ban", { nickname });
      form.reset();
      durations.hidden = action === "kick";
      addressRow.hidden = action !== "ban";
      renderConfirm();
      dialog.showModal();
      const first = action === "kick"
        ? reason
        : durations.querySelector("input:checked");
      if (first instanceof HTMLElement) first.focus();
    },

    /**
     * Sends an undo (unmute, unban) at once.
     * @param {UndoAction} action
     * @param {string} nickname
     */
    act(action, nickname) {
      dispatch(modFrame(action, nickname));
    },

    /**
     * Takes the server's answer to a `mod` frame (a `mod_ok`, or an
     * `error` naming its action): a notice for the actions on people.
     * @param {Record<string, any>} answer
     */
    answered(answer) {
      const action = String(answer.action);
      if (!PEOPLE_ACTIONS.has(action)) return;
      // Both answers name the person acted on (none for a delete)
      const nickname = typeof answer.nickname === "string"
        ? answer.nickname
        : "";
      if (answer.type === "error") {
        refused(String(answer.code), action, nickname);
        return;
      }
      if (nickname === "") return;
      if (action === "kick") {
        log.notice(s("mod_done_kick", { nickname }));
      } else if (action === "mute" || action === "ban") {
        // A banned person has left the user list: Undo is the way back
        const undo = action === "mute" ? "unmute" : "unban";
        log.actionNotice(untilText(answer.until, action, nickname), {
          label: s("notice_undo"),
          run: () => dispatch(modFrame(undo, nickname)),
        });
      } else if (action === "unmute") {
        log.notice(s("mod_done_unmute", { nickname }));
      } else if (action === "unban") {
        log.notice(s("mod_done_unban", { nickname }));
      }
    },
  };
}
