// @ts-check
/**
 * The one place where log entries become elements: messages (pending,
 * confirmed, or turned from one into the other) in their latest state
 * (edited, deleted, reactions, the quote of a reply, mentions), notices,
 * and their times. User text goes in with textContent only, never as
 * markup. Nothing here reads layout or inserts into the page:
 * message_log.js does that. A moderator's name carries a badge; a
 * message from someone this page ignores is collapsed to one line with a
 * Show button (setPeople says who is who).
 *
 * @module
 */
import { mentionSegments } from "./mention_text.js";
import { createClock, linkSegments, nickColourClass } from "./text.js";

/**
 * @typedef {import("./message_log.js").ChatMessage} ChatMessage
 * @typedef {ReturnType<typeof createMessageView>} MessageView
 * @typedef {{ isModerator: (nickname: string) => boolean,
 *   isIgnored: (nickname: string) => boolean }} People
 *   Who gets a moderator badge, and whose messages are collapsed
 */

/**
 * The "moderator" badge beside a name: short text, with the full word as
 * its accessible name and tooltip.
 * @param {import("./page.js").Translate} s
 * @returns {HTMLElement}
 */
export function modBadge(s) {
  const badge = document.createElement("span");
  badge.className = "mod-badge";
  badge.setAttribute("role", "img");
  badge.setAttribute("aria-label", s("mod_badge_label"));
  badge.title = s("mod_badge_label");
  badge.textContent = s("mod_badge");
  return badge;
}

/**
 * Builds log elements for one page language.
 * @param {{ lang: string, s: import("./page.js").Translate,
 *   me: () => string, names: () => readonly string[] }} options
 *   `names`: the nicknames a mention may name, longest first
 */
export function createMessageView({ lang, s, me, names }) {
  const clock = createClock(lang);
  /** @type {People} */
  let people = { isModerator: () => false, isIgnored: () => false };
  /** @type {Set<number>} collapsed messages the reader chose to see anyway */
  const revealed = new Set();

  /**
   * Whether `message` is shown collapsed, as from an ignored person.
   * @param {ChatMessage} message
   */
  function collapsed(message) {
    return people.isIgnored(message.nickname) && !revealed.has(message.id);
  }

  /**
   * Puts the badge after the nickname in `head` when its author is a
   * moderator, and takes it away when they are not.
   * @param {Element} head
   * @param {string} nickname
   */
  function fillBadge(head, nickname) {
    const had = head.querySelector(":scope > .mod-badge");
    const is = people.isModerator(nickname);
    if (had && !is) had.remove();
    else if (!had && is) {
      head.querySelector(":scope > .msg-nick")?.after(modBadge(s));
    }
  }

  /**
   * @param {number} ts
   * @param {string} className
   */
  function renderTime(ts, className) {
    const time = document.createElement("time");
    time.className = className;
    time.dateTime = new Date(ts).toISOString();
    time.textContent = clock.short(ts);
    // The tooltip's full date is filled in on hover (see titleTime)
    return time;
  }

  /**
   * @param {HTMLElement} body
   * @param {string} text
   * @returns {boolean} whether the text mentions me
   */
  function fillText(body, text) {
    let mine = false;
    const known = names();
    const self = me();
    for (const segment of linkSegments(text)) {
      if (segment.href !== undefined) {
        const link = document.createElement("a");
        link.href = segment.href;
        // A URL reads left to right whatever override the text around it sets
        link.dir = "ltr";
        link.textContent = segment.text;
        link.target = "_blank";
        link.rel = "noopener noreferrer nofollow";
        body.append(link);
        continue;
      }
      for (const part of mentionSegments(segment.text, known)) {
        if (part.mention === undefined) {
          body.append(part.text);
          continue;
        }
        const mention = document.createElement("span");
        const isMe = part.mention.toLowerCase() === self.toLowerCase();
        mention.className = isMe ? "mention mention-me" : "mention";
        mention.textContent = part.text;
        if (isMe) mine = true;
        body.append(mention);
      }
    }
    return mine;
  }

  /**
   * @param {string} text
   * @param {"info" | "presence" | "error" | "marker"} kind
   * @param {unknown} [ts]
   */
  function renderNotice(text, kind, ts) {
    const el = document.createElement("div");
    el.className = `notice notice-${kind}`;
    if (typeof ts === "number") {
      el.append(renderTime(ts, "notice-time"), " ");
    }
    el.append(text);
    return el;
  }

  /**
   * The quoted start of the message a reply answers; a button that leads there.
   * @param {NonNullable<ChatMessage["reply"]>} reply
   */
  function renderQuote(reply) {
    const quote = document.createElement("button");
    quote.type = "button";
    quote.className = "msg-quote";
    quote.dataset.reply = String(reply.id);
    quote.setAttribute(
      "aria-label",
      s("reply_goto", { nickname: reply.nickname }),
    );
    const nick = document.createElement("span");
    nick.className = "msg-quote-nick";
    nick.dir = "auto";
    nick.textContent = reply.nickname;
    const text = document.createElement("span");
    text.className = "msg-quote-text";
    text.dir = "auto";
    text.textContent = reply.text === ""
      ? s("reply_gone")
      : people.isIgnored(reply.nickname)
      ? s("msg_ignored")
      : reply.text;
    quote.append(nick, " ", text);
    return quote;
  }

  /** @param {Record<string, string[]>} reactions */
  function renderReactions(reactions) {
    const row = document.createElement("div");
    row.className = "reactions";
    const self = me();
    for (const [emoji, who] of Object.entries(reactions)) {
      if (!Array.isArray(who) || who.length === 0) continue;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "reaction";
      button.dataset.emoji = emoji;
      button.setAttribute("aria-pressed", String(who.includes(self)));
      const label = s("reaction_who", {
        names: who.join(s("typing_list_separator")),
        emoji,
      });
      button.title = label;
      button.setAttribute("aria-label", label);
      const glyph = document.createElement("span");
      glyph.className = "reaction-emoji";
      glyph.textContent = emoji;
      const count = document.createElement("span");
      count.className = "reaction-count";
      count.textContent = String(who.length);
      button.append(glyph, count);
      row.append(button);
    }
    return row.childElementCount > 0 ? row : undefined;
  }

  /**
   * Everything of a message below its header, in its latest state.
   * @param {HTMLElement} el
   * @param {ChatMessage} message
   */
  function fillBody(el, message) {
    el.classList.toggle("deleted", message.deleted === true);
    const body = document.createElement("p");
    body.className = "msg-text";
    body.dir = "auto";
    const hide = collapsed(message);
    el.classList.toggle("ignored", hide);
    if (hide) {
      // Nothing of theirs is shown, not even whether it mentions me
      body.classList.add("msg-gone");
      const show = document.createElement("button");
      show.type = "button";
      show.className = "button small msg-show";
      show.textContent = s("msg_ignored_show");
      body.append(s("msg_ignored"), " ", show);
      el.classList.remove("mentioned");
      el.append(body);
      return;
    }
    if (message.deleted) {
      body.classList.add("msg-gone");
      body.textContent = message.deletedBy === "moderator"
        ? s("msg_deleted_moderator")
        : s("msg_deleted");
      el.classList.remove("mentioned");
      el.append(body);
      return;
    }
    if (message.reply) el.append(renderQuote(message.reply));
    el.classList.toggle("mentioned", fillText(body, message.text));
    if (message.edited) {
      const edited = document.createElement("span");
      edited.className = "msg-edited";
      edited.textContent = s("msg_edited");
      body.append(" ", edited);
    }
    el.append(body);
    const reactions = message.reactions && renderReactions(message.reactions);
    if (reactions) el.append(reactions);
  }

  return {
    /**
     * Says who is a moderator and whom this page ignores, for what is
     * rendered from now on.
     * @param {People} who
     */
    setPeople(who) {
      people = who;
    },

    /**
     * Shows a collapsed message in full from its next render on.
     * @param {number} id
     */
    reveal(id) {
      revealed.add(id);
    },

    /**
     * Collapses a message shown with Show again from its next render on:
     * ignoring someone anew hides everything of theirs.
     * @param {number} id
     */
    conceal(id) {
      revealed.delete(id);
    },

    /**
     * A message, confirmed by the server or (`pending`) only typed so far.
     * @param {ChatMessage} message
     * @param {{ own: boolean, pending?: boolean }} options
     * @returns {HTMLElement}
     */
    message(message, { own, pending = false }) {
      const el = document.createElement("div");
      el.className = own ? "msg own" : "msg";
      if (pending) el.classList.add("pending");
      else el.dataset.id = String(message.id);

      const head = document.createElement("div");
      head.className = "msg-head";
      const nick = document.createElement("span");
      nick.className = own
        ? "msg-nick"
        : `msg-nick ${nickColourClass(message.nickname)}`;
      // Isolated from what is around it, so a right-to-left name or a bidi
      // control in it cannot reorder the time or the text beside it
      nick.dir = "auto";
      nick.textContent = message.nickname;
      head.append(nick);
      fillBadge(head, message.nickname);
      if (pending) {
        const status = document.createElement("span");
        status.className = "msg-status";
        status.textContent = s("notice_sending");
        head.append(status);
      } else {
        head.append(renderTime(message.ts, "msg-time"));
      }
      el.append(head);
      fillBody(el, message);
      return el;
    },

    /**
     * Renders a message again below its header after it changed, and its
     * badge; the actions toolbar, if it is in there, stays.
     * @param {HTMLElement} el
     * @param {ChatMessage} message
     */
    refresh(el, message) {
      const toolbar = el.querySelector(":scope > .msg-toolbar");
      const head = el.querySelector(":scope > .msg-head");
      if (head) fillBadge(head, message.nickname);
      for (const part of [...el.children]) {
        if (part.classList.contains("msg-head") || part === toolbar) continue;
        part.remove();
      }
      fillBody(el, message);
      if (toolbar) el.append(toolbar);
    },

    /**
     * Turns a pending message's element into the confirmed `message`.
     * @param {HTMLElement} el
     * @param {ChatMessage} message
     */
    confirmed(el, message) {
      el.classList.remove("pending");
      el.dataset.id = String(message.id);
      el.querySelector(".msg-status")?.remove();
      el.querySelector(".msg-head")?.append(
        renderTime(message.ts, "msg-time"),
      );
    },

    /**
     * A quiet line: presence changes, errors, connection news.
     * @param {string} text
     * @param {"info" | "presence" | "error" | "marker"} kind
     * @param {unknown} [ts]
     * @returns {HTMLElement}
     */
    notice: renderNotice,

    /**
     * A notice with one button (Undo) that runs `run` once.
     * @param {string} text
     * @param {{ label: string, run: () => void }} action
     * @returns {HTMLElement}
     */
    actionNotice(text, { label, run }) {
      const el = renderNotice(text, "info");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button small notice-action";
      button.textContent = label;
      button.addEventListener("click", () => {
        button.disabled = true;
        run();
      }, { once: true });
      el.append(" ", button);
      return el;
    },

    /**
     * Gives a time element its full date as a tooltip, the first time it
     * is pointed at: formatting it for every message would cost more than
     * all the rest of the message.
     * @param {EventTarget | null} target
     */
    titleTime(target) {
      if (!(target instanceof Element)) return;
      const time = target.closest(".msg, .notice")?.querySelector("time");
      if (!time || time.title) return;
      const ts = Date.parse(time.dateTime);
      if (Number.isFinite(ts)) time.title = clock.full(ts);
    },
  };
}
