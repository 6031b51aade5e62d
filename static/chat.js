// @ts-check
/**
 * The chat page client. It speaks the WebSocket protocol of lib/protocol.ts,
 * renders every piece of user text with textContent (never innerHTML), and
 * keeps the page usable through reconnects: messages are de-duplicated by
 * id and unconfirmed own messages are resent with the same cid.
 *
 * The pure helpers at the top are exported so tests can import this file
 * outside a browser; the page itself starts only when #app exists.
 *
 * @module
 */

/** The room that `/chat` and `/ws/lobby` lead to */
export const LOBBY = "lobby";

/** How long "x is typing" stays up without a new typing event */
const TYPING_SHOW_MS = 3000;
/** The least time between two typing frames we send */
const TYPING_SEND_MS = 2000;
/** Distance from the bottom, in pixels, that still counts as "at the bottom" */
const STICK_PX = 48;
/** Elements kept in the log; older ones are dropped to keep long sessions fast */
const MAX_LOG_ITEMS = 600;
/** Times one message is retried after rate_limited or internal errors */
const MAX_RETRIES = 5;
/** The least time between two rooms-list fetches */
const ROOMS_MIN_GAP_MS = 3000;
/** How often the rooms list refreshes by itself */
const ROOMS_REFRESH_MS = 30_000;
/** Classes for nickname colours, see style.css */
const NICK_COLOURS = 8;

/**
 * Fills `{name}` placeholders the way lib/i18n.ts does; an unknown one is
 * left as written
 * @param {string} template
 * @param {Record<string, string | number>} [vars]
 * @returns {string}
 */
export function format(template, vars = {}) {
  return template.replace(
    /\{([a-z_]+)\}/g,
    (whole, /** @type {string} */ name) =>
      Object.hasOwn(vars, name) ? String(vars[name]) : whole,
  );
}

// RFC 3986 characters only: chat text in Chinese has no spaces, so a link
// must stop at the first CJK character or full-width punctuation
const URL_PATTERN =
  /(?<![A-Za-z0-9])https?:\/\/[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+/gi;

/**
 * Drops the punctuation that ends a sentence rather than a link, and a
 * closing bracket that has no opening one inside the link
 * @param {string} url
 * @returns {string}
 */
function trimUrlTail(url) {
  let out = url;
  for (;;) {
    const last = out.at(-1);
    if (last === undefined) return out;
    if (".,;:!?'*".includes(last)) {
      out = out.slice(0, -1);
      continue;
    }
    const open = last === ")" ? "(" : last === "]" ? "[" : undefined;
    if (open !== undefined) {
      const opens = out.split(open).length - 1;
      const closes = out.split(last).length - 1;
      if (closes > opens) {
        out = out.slice(0, -1);
        continue;
      }
    }
    return out;
  }
}

/**
 * Splits message text into plain runs and http(s) links; a link carries
 * the parsed href, its text is what the person typed
 * @param {string} text
 * @returns {{ text: string, href?: string }[]}
 */
export function linkSegments(text) {
  /** @type {{ text: string, href?: string }[]} */
  const out = [];
  let done = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index ?? 0;
    const candidate = trimUrlTail(match[0]);
    let href;
    try {
      const url = new URL(candidate);
      // The pattern already insists on http(s); this guards the parser's view
      if (
        (url.protocol === "http:" || url.protocol === "https:") && url.host
      ) {
        href = url.href;
      }
    } catch {
      // Not a URL after all, e.g. "http://": it stays text
    }
    if (href === undefined) continue;
    if (start > done) out.push({ text: text.slice(done, start) });
    out.push({ text: candidate, href });
    done = start + candidate.length;
  }
  if (done < text.length) out.push({ text: text.slice(done) });
  return out;
}

/**
 * Turns a typed room name into a room slug (`[a-z0-9-]{1,32}`), or null
 * @param {string} input
 * @returns {string | null}
 */
export function roomSlug(input) {
  const slug = input.trim().toLowerCase().replace(/[\s_]+/g, "-");
  return /^[a-z0-9-]{1,32}$/.test(slug) ? slug : null;
}

/**
 * The page address of a room
 * @param {string} room
 * @returns {string}
 */
export function roomPath(room) {
  return room === LOBBY ? "/chat" : `/chat/${room}`;
}

/**
 * The WebSocket address of a room, asking for what came after `since`
 * @param {{ protocol: string, host: string }} location
 * @param {string} room
 * @param {number} [since]
 * @returns {string}
 */
export function socketUrl(location, room, since) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = since === undefined ? "" : `?since=${since}`;
  return `${scheme}://${location.host}/ws/${encodeURIComponent(room)}${query}`;
}

/**
 * Milliseconds to wait before reconnect attempt `attempt` (0-based):
 * doubling from 1 s to 30 s, each a random point in the upper half so a
 * restarted server is not hit by every client in the same instant
 * @param {number} attempt
 * @param {() => number} [random]
 * @returns {number}
 */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(30_000, 1000 * 2 ** Math.max(0, attempt));
  return Math.max(1000, Math.round(ceiling / 2 + random() * ceiling / 2));
}

/**
 * A colour class for a nickname, the same on every page load
 * @param {string} nickname
 * @returns {string}
 */
export function nickColourClass(nickname) {
  let hash = 0;
  for (const ch of nickname) {
    hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  }
  return `nick-c${hash % NICK_COLOURS}`;
}

/**
 * A random client message id; getRandomValues works on plain http too,
 * where crypto.randomUUID does not exist
 * @returns {string}
 */
export function newCid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @type {Map<string, Intl.DateTimeFormat>} */
const formatters = new Map();

/**
 * A message time for display: hours and minutes today, with the date
 * before that
 * @param {number} ts
 * @param {string} lang
 * @param {number} [now]
 * @returns {string}
 */
export function formatTime(ts, lang, now = Date.now()) {
  const date = new Date(ts);
  const today = new Date(now).toDateString() === date.toDateString();
  const key = `${lang}|${today}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(
      lang,
      today ? { hour: "numeric", minute: "2-digit" } : {
        month: "short",
        day: "numeric",
        hour: "numeric",
        minute: "2-digit",
      },
    );
    formatters.set(key, formatter);
  }
  return formatter.format(date);
}

/**
 * @typedef {{ type: "message", id: number, nickname: string, text: string,
 *   ts: number, cid?: string }} MessageEvent
 * @typedef {{ cid: string, text: string, el: HTMLElement, sent: boolean,
 *   retries: number }} OutboxEntry
 * @typedef {"connecting" | "connected" | "reconnecting" | "offline"} Status
 */

/**
 * Looks an element up by id and fails loudly when the page lacks it
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`Missing element #${id} on the chat page`);
  return /** @type {T} */ (el);
}

/**
 * Starts the chat client on the page rendered by templates/chat_page.tsx
 * @param {HTMLElement} app
 */
export function startChat(app) {
  const room = app.dataset.room ?? LOBBY;
  const lang = app.dataset.lang ?? document.documentElement.lang ?? "en";
  let me = app.dataset.nickname ?? "";
  /** @type {Record<string, string>} */
  const strings = JSON.parse(byId("strings").textContent ?? "{}");
  /**
   * @param {string} key
   * @param {Record<string, string | number>} [vars]
   */
  const s = (key, vars) => format(strings[key] ?? key, vars);

  const log = byId("messages");
  const empty = byId("messages-empty");
  const pill = byId("new-pill");
  const typingLine = byId("typing");
  const composer = /** @type {HTMLFormElement} */ (byId("composer"));
  const input = /** @type {HTMLTextAreaElement} */ (byId("message-input"));
  const sendButton = /** @type {HTMLButtonElement} */ (byId("send-button"));
  const badge = byId("conn-badge");
  const liveStatus = byId("conn-live");
  const onlineCount = byId("online-count");
  const userList = byId("user-list");
  const roomList = byId("room-list");
  const roomForm = /** @type {HTMLFormElement} */ (byId("room-form"));
  const roomInput = /** @type {HTMLInputElement} */ (byId("room-input"));
  const roomError = byId("room-error");
  const panelToggle = byId("panel-toggle");
  const panelClose = byId("panel-close");
  const scrim = byId("scrim");
  const chatMain = byId("chat-main");
  const header = /** @type {HTMLElement} */ (app.querySelector(".room-header"));

  const baseTitle = document.title;
  /** @type {WebSocket | null} */
  let ws = null;
  /** True once the current socket got its welcome */
  let ready = false;
  /** True once any socket got a welcome: later ones ask for `since` */
  let welcomed = false;
  let attempt = 0;
  let reconnectAt = 0;
  /** @typedef {ReturnType<typeof setTimeout>} Timer */
  /** @type {Timer | undefined} */
  let reconnectTimer;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let countdownTimer;
  /** @type {Timer | undefined} */
  let retryTimer;
  /** Set when the page is leaving or the session is gone: no reconnects */
  let stopped = false;
  /** @type {Status} */
  let status = "connecting";
  let lastId = 0;
  /** @type {Set<number>} */
  const seen = new Set();
  /** @type {Set<string>} */
  let users = new Set();
  /** Own messages the server has not confirmed, in the order typed */
  /** @type {Map<string, OutboxEntry>} */
  const outbox = new Map();
  /** @type {Map<string, Timer>} */
  const typers = new Map();
  let lastTypingSent = 0;
  let unread = 0;
  let roomsFetchedAt = 0;
  /** @type {Timer | undefined} */
  let roomsTimer;
  let roomsBusy = false;
  /** Whether the input had focus when going offline disabled it */
  let refocus = false;
  /** Set by a rate_limited error: send one message at a time until caught up */
  let throttled = false;
  /** The last answer of /api/rooms, redrawn when our own room changes */
  /** @type {unknown} */
  let lastRooms;

  // ---- Connection ----

  function clearTimers() {
    clearTimeout(reconnectTimer);
    clearInterval(countdownTimer);
    reconnectTimer = undefined;
    countdownTimer = undefined;
  }

  function connect() {
    clearTimers();
    if (stopped) return;
    setStatus(welcomed ? "reconnecting" : "connecting");
    // A socket still opening (e.g. when the network comes back) is dropped
    // first: its handlers ignore it once it is no longer `ws`
    const previous = ws;
    ws = null;
    previous?.close();
    const socket = new WebSocket(
      socketUrl(location, room, welcomed ? lastId : undefined),
    );
    ws = socket;
    ready = false;
    socket.addEventListener("message", (event) => {
      if (ws !== socket || typeof event.data !== "string") return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // Not ours to show; the server never sends this
      }
      handleEvent(frame);
    });
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
    }, { once: true });
    socket.addEventListener("close", (event) => {
      if (ws !== socket) return;
      ws = null;
      ready = false;
      if (!opened) checkSession();
      onClose(event.code);
    });
  }

  /**
   * A refused upgrade (say 401, the session expired) looks like any failed
   * connection to a page; asking for the page itself tells them apart.
   */
  async function checkSession() {
    try {
      const res = await fetch(location.pathname, { redirect: "manual" });
      if (res.type === "opaqueredirect" || res.status === 303) {
        stopped = true;
        clearTimers();
        location.assign("/login");
      }
    } catch {
      // Offline: the reconnect loop keeps trying.
    }
  }

  /** @param {number} code */
  function onClose(code) {
    const inFlight = [...outbox.values()].filter((entry) => entry.sent);
    // Whatever was in flight may be lost: it is resent, same cid, later
    for (const entry of inFlight) entry.sent = false;
    typers.clear();
    renderTyping();
    if (stopped) return;
    if (code === 4401 || code === 4409) {
      // The session is gone or the nickname is someone else's now
      stopped = true;
      location.assign("/login");
      return;
    }
    if (code === 1012) {
      notice(s("notice_restarting"));
      scheduleReconnect(0);
      return;
    }
    if (code === 1009) {
      // Resending what was in flight would only be refused again
      for (const entry of inFlight) failEntry(entry, s("close_too_big"));
      notice(s("close_too_big"), "error");
    } else if (code === 1008) {
      notice(s("close_policy"), "error");
    } else if (code === 1013) {
      notice(s("close_too_slow"), "error");
    }
    scheduleReconnect();
  }

  /** @param {number} [delay] */
  function scheduleReconnect(delay) {
    clearTimers();
    const ms = delay ?? backoffDelay(attempt);
    attempt++;
    reconnectAt = Date.now() + ms;
    reconnectTimer = setTimeout(connect, ms);
    if (ms > 0) {
      countdownTimer = setInterval(renderStatus, 1000);
    }
    setStatus("reconnecting");
  }

  /** @param {Status} next */
  function setStatus(next) {
    const changed = next !== status;
    status = next;
    renderStatus();
    if (changed) {
      // Announced once per change; the badge's countdown is not live so a
      // screen reader is not told the seconds every second
      liveStatus.textContent = next === "connected"
        ? s("status_connected")
        : next === "offline"
        ? s("status_offline")
        : next === "reconnecting"
        ? s("status_reconnecting_now")
        : s("status_connecting");
    }
  }

  function renderStatus() {
    const offline = status !== "connected" && !navigator.onLine;
    const shown = offline ? "offline" : status;
    let text = s("status_connecting");
    if (shown === "connected") text = s("status_connected");
    else if (shown === "offline") text = s("status_offline");
    else if (shown === "reconnecting") {
      const seconds = Math.ceil((reconnectAt - Date.now()) / 1000);
      text = reconnectTimer && seconds > 0
        ? s("status_reconnecting", { seconds })
        : s("status_reconnecting_now");
    }
    badge.textContent = text;
    badge.className = `badge badge-${shown}`;
    const disable = shown === "offline";
    if (input.disabled !== disable) {
      // Disabling drops focus; give it back when the input returns
      if (disable) refocus = document.activeElement === input;
      input.disabled = disable;
      sendButton.disabled = disable;
      if (!disable && refocus) input.focus();
    }
  }

  /** @param {unknown} frame */
  function handleEvent(frame) {
    if (typeof frame !== "object" || frame === null) return;
    const event = /** @type {Record<string, any>} */ (frame);
    switch (event.type) {
      case "batch":
        if (Array.isArray(event.events)) {
          for (const inner of event.events) handleEvent(inner);
        }
        break;
      case "welcome":
        onWelcome(event);
        break;
      case "message":
        onMessage(/** @type {MessageEvent} */ (event), false);
        break;
      case "join":
      case "leave":
        onPresence(event.type, event.nickname, event.ts);
        break;
      case "typing":
        onTyping(event.nickname);
        break;
      case "error":
        onError(String(event.code), event.retryAfter);
        break;
    }
  }

  /** @param {Record<string, any>} event */
  function onWelcome(event) {
    const recovering = welcomed;
    welcomed = true;
    ready = true;
    attempt = 0;
    setStatus("connected");
    if (typeof event.nickname === "string") me = event.nickname;
    users = new Set(
      Array.isArray(event.users)
        ? event.users.filter((/** @type {unknown} */ u) =>
          typeof u === "string"
        )
        : [],
    );
    users.add(me);
    renderUsers();
    if (recovering && event.recovered === false) {
      notice(s("notice_missed"));
    }
    if (Array.isArray(event.history)) {
      for (const message of event.history) onMessage(message, !recovering);
    }
    flushOutbox();
    updateEmpty();
    if (!recovering) scrollToBottom();
    refreshRooms();
  }

  /**
   * @param {MessageEvent} message
   * @param {boolean} initial true for the history of the first welcome
   */
  function onMessage(message, initial) {
    if (
      typeof message?.id !== "number" || typeof message.text !== "string" ||
      typeof message.nickname !== "string"
    ) return;
    if (seen.has(message.id)) {
      // Already shown: a pending copy of it would be a duplicate
      const copy = message.cid !== undefined
        ? outbox.get(message.cid)
        : undefined;
      if (copy && message.nickname === me) {
        settle(copy);
        copy.el.remove();
        if (throttled) flushOutbox();
      }
      return;
    }
    seen.add(message.id);
    lastId = Math.max(lastId, message.id);
    if (typers.delete(message.nickname)) renderTyping();

    const stick = isAtBottom();
    const entry = message.cid !== undefined && message.nickname === me
      ? outbox.get(message.cid)
      : undefined;
    if (entry) {
      settle(entry);
      confirmEntry(entry, message);
      // While paced, the next queued message goes once this one is in
      if (throttled && ready) flushOutbox();
    } else {
      addToLog(renderMessage(message, message.nickname === me, false));
    }
    updateEmpty();
    if (stick || entry) scrollToBottom();
    else if (!initial) pill.hidden = false;
    if (!initial && !entry && message.nickname !== me && document.hidden) {
      unread++;
      renderTitle();
    }
  }

  /**
   * @param {string} kind
   * @param {unknown} nickname
   * @param {unknown} ts
   */
  function onPresence(kind, nickname, ts) {
    if (typeof nickname !== "string") return;
    if (kind === "join") {
      // A second tab of someone already here is no news
      if (users.has(nickname)) return;
      users.add(nickname);
      notice(s("event_join", { nickname }), "presence", ts);
    } else {
      // Our own other tab closing does not take us out of the room
      if (nickname === me || !users.has(nickname)) return;
      users.delete(nickname);
      if (typers.delete(nickname)) renderTyping();
      notice(s("event_leave", { nickname }), "presence", ts);
    }
    renderUsers();
    scheduleRoomsRefresh();
  }

  /** @param {unknown} nickname */
  function onTyping(nickname) {
    if (typeof nickname !== "string" || nickname === me) return;
    clearTimeout(typers.get(nickname));
    typers.set(
      nickname,
      setTimeout(() => {
        typers.delete(nickname);
        renderTyping();
      }, TYPING_SHOW_MS),
    );
    renderTyping();
  }

  /**
   * @param {string} code
   * @param {unknown} retryAfter
   */
  function onError(code, retryAfter) {
    const wait = typeof retryAfter === "number" && retryAfter > 0
      ? Math.ceil(retryAfter)
      : undefined;
    if (code === "rate_limited") {
      // One notice per slow-down, not one per refused message
      if (!throttled) {
        notice(
          wait
            ? s("error_rate_limited_wait", { seconds: wait })
            : s("error_rate_limited"),
          "error",
        );
      }
      throttled = true;
      // The server asked us to wait, so waiting is not a failed try
      retryInFlight(typeof retryAfter === "number" ? retryAfter : 2, false);
    } else if (code === "internal") {
      notice(s("error_internal"), "error");
      retryInFlight(3, true);
    } else if (
      code === "too_long" || code === "empty" || code === "bad_request"
    ) {
      const text = s(`error_${code}`);
      notice(text, "error");
      // The server answers frames in order, so the oldest message still in
      // flight is the one refused
      const refused = [...outbox.values()].find((e) => e.sent);
      if (refused) failEntry(refused, text, true);
      if (throttled) flushOutbox();
    } else {
      notice(s("error_unknown", { code: code.slice(0, 32) }), "error");
    }
  }

  // ---- Sending ----

  /** @param {unknown} frame */
  function send(frame) {
    if (!ws || !ready || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  function flushOutbox() {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    for (const entry of outbox.values()) {
      if (entry.sent) {
        if (throttled) return;
        continue;
      }
      if (!send({ type: "message", text: entry.text, cid: entry.cid })) return;
      entry.sent = true;
      // After a rate limit, one at a time until the queue is through, so a
      // long queue does not earn one refusal per message
      if (throttled) return;
    }
  }

  /** Takes an entry out of the outbox once it is confirmed or given up */
  function settle(/** @type {OutboxEntry} */ entry) {
    outbox.delete(entry.cid);
    if (outbox.size === 0) throttled = false;
  }

  /**
   * @param {number} seconds
   * @param {boolean} countsAsTry
   */
  function retryInFlight(seconds, countsAsTry) {
    for (const entry of [...outbox.values()]) {
      if (!entry.sent) continue;
      entry.sent = false;
      if (countsAsTry && ++entry.retries > MAX_RETRIES) {
        failEntry(entry, s("notice_not_sent"));
      }
    }
    clearTimeout(retryTimer);
    retryTimer = setTimeout(flushOutbox, Math.max(0.2, seconds) * 1000);
  }

  function sendCurrent() {
    if (input.disabled) return;
    const text = input.value.trim();
    if (text === "") return;
    const cid = newCid();
    const el = renderMessage(
      { type: "message", id: 0, nickname: me, text, ts: Date.now(), cid },
      true,
      true,
    );
    log.append(el);
    outbox.set(cid, { cid, text, el, sent: false, retries: 0 });
    input.value = "";
    updateEmpty();
    scrollToBottom();
    flushOutbox();
  }

  /**
   * @param {OutboxEntry} entry
   * @param {MessageEvent} message
   */
  function confirmEntry(entry, message) {
    const el = entry.el;
    el.classList.remove("pending");
    el.dataset.id = String(message.id);
    el.querySelector(".msg-status")?.remove();
    el.querySelector(".msg-head")?.append(renderTime(message.ts));
    // Keep the log in server order: confirmed messages sit above pending ones
    const next = firstPending();
    if (el.nextElementSibling !== next) log.insertBefore(el, next);
  }

  /**
   * @param {OutboxEntry} entry
   * @param {string} reason
   * @param {boolean} [restore] put the text back in the input if it is empty
   */
  function failEntry(entry, reason, restore = false) {
    settle(entry);
    entry.el.classList.remove("pending");
    entry.el.classList.add("failed");
    const status = entry.el.querySelector(".msg-status");
    if (status) status.textContent = `${s("notice_not_sent")}: ${reason}`;
    if (restore && input.value.trim() === "") input.value = entry.text;
  }

  // ---- Rendering ----

  function firstPending() {
    return log.querySelector(":scope > .pending");
  }

  /** Adds an element after the confirmed items and before pending ones */
  function addToLog(/** @type {HTMLElement} */ el) {
    log.insertBefore(el, firstPending());
    while (log.childElementCount > MAX_LOG_ITEMS) {
      log.firstElementChild?.remove();
    }
  }

  /** @param {number} ts */
  function renderTime(ts) {
    const time = document.createElement("time");
    time.className = "msg-time";
    const date = new Date(ts);
    time.dateTime = date.toISOString();
    time.textContent = formatTime(ts, lang);
    time.title = date.toLocaleString(lang);
    return time;
  }

  /**
   * @param {MessageEvent} message
   * @param {boolean} own
   * @param {boolean} pending
   */
  function renderMessage(message, own, pending) {
    const el = document.createElement("div");
    el.className = "msg";
    if (own) el.classList.add("own");
    if (pending) el.classList.add("pending");
    else el.dataset.id = String(message.id);

    const head = document.createElement("div");
    head.className = "msg-head";
    const nick = document.createElement("span");
    nick.className = `msg-nick ${own ? "" : nickColourClass(message.nickname)}`;
    nick.textContent = message.nickname;
    head.append(nick);
    if (pending) {
      const status = document.createElement("span");
      status.className = "msg-status";
      status.textContent = s("notice_sending");
      head.append(status);
    } else {
      head.append(renderTime(message.ts));
    }

    const body = document.createElement("p");
    body.className = "msg-text";
    for (const segment of linkSegments(message.text)) {
      if (segment.href === undefined) {
        body.append(segment.text);
        continue;
      }
      const link = document.createElement("a");
      link.href = segment.href;
      link.textContent = segment.text;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      body.append(link);
    }
    el.append(head, body);
    return el;
  }

  /**
   * A quiet line in the log: presence changes, errors, connection news
   * @param {string} text
   * @param {"info" | "presence" | "error"} [kind]
   * @param {unknown} [ts]
   */
  function notice(text, kind = "info", ts) {
    const stick = isAtBottom();
    const el = document.createElement("div");
    el.className = `notice notice-${kind}`;
    if (typeof ts === "number") {
      const time = renderTime(ts);
      time.className = "notice-time";
      el.append(time, " ");
    }
    el.append(text);
    addToLog(el);
    if (stick) scrollToBottom();
  }

  function renderUsers() {
    const sorted = [...users].sort((a, b) => a.localeCompare(b, lang));
    const items = sorted.map((nickname) => {
      const li = document.createElement("li");
      li.className = "user";
      const name = document.createElement("span");
      name.className = nickname === me
        ? "user-name"
        : `user-name ${nickColourClass(nickname)}`;
      name.textContent = nickname;
      li.append(name);
      if (nickname === me) {
        li.classList.add("me");
        li.append(" ", s("you_marker"));
      }
      return li;
    });
    userList.replaceChildren(...items);
    onlineCount.textContent = s("online_count", { count: users.size });
    // Our own room's count is known here at once; the fetch may be older
    if (lastRooms !== undefined) renderRooms(lastRooms);
  }

  function renderTyping() {
    const names = [...typers.keys()];
    if (names.length === 0) typingLine.textContent = "";
    else if (names.length === 1) {
      typingLine.textContent = s("typing_one", { nickname: names[0] });
    } else {
      typingLine.textContent = s("typing_many", {
        names: names.slice(0, 3).join(s("typing_list_separator")) +
          (names.length > 3 ? "…" : ""),
      });
    }
  }

  function renderTitle() {
    document.title = unread > 0
      ? s("unread_title", { count: unread, title: baseTitle })
      : baseTitle;
  }

  function updateEmpty() {
    empty.hidden = !welcomed || log.querySelector(".msg") !== null;
  }

  function isAtBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < STICK_PX;
  }

  function scrollToBottom() {
    log.scrollTop = log.scrollHeight;
    pill.hidden = true;
  }

  // ---- Rooms ----

  function scheduleRoomsRefresh() {
    if (roomsTimer) return;
    const wait = Math.max(0, roomsFetchedAt + ROOMS_MIN_GAP_MS - Date.now());
    roomsTimer = setTimeout(() => {
      roomsTimer = undefined;
      refreshRooms();
    }, wait);
  }

  async function refreshRooms() {
    // Only while connected: a fetch to a server that is down is just noise
    if (roomsBusy || !ready) return;
    roomsBusy = true;
    roomsFetchedAt = Date.now();
    try {
      const response = await fetch("/api/rooms", {
        headers: { accept: "application/json" },
        cache: "no-store",
      });
      if (!response.ok) throw new Error(`Rooms answered ${response.status}`);
      renderRooms(await response.json());
    } catch {
      if (roomList.querySelector("a") === null) {
        const li = document.createElement("li");
        li.className = "quiet";
        li.textContent = s("rooms_error");
        roomList.replaceChildren(li);
      }
    } finally {
      roomsBusy = false;
      roomList.removeAttribute("aria-busy");
    }
  }

  /** @param {unknown} data */
  function renderRooms(data) {
    lastRooms = data;
    /** @type {Map<string, number>} */
    const rooms = new Map();
    if (Array.isArray(data)) {
      for (const item of data) {
        const name = item?.name;
        if (typeof name !== "string" || roomSlug(name) !== name) continue;
        rooms.set(name, typeof item.users === "number" ? item.users : 0);
      }
    }
    // The lobby and the room we are in are always listed
    if (!rooms.has(LOBBY)) rooms.set(LOBBY, 0);
    rooms.set(room, users.size);
    const names = [...rooms.keys()].sort((a, b) =>
      a === LOBBY
        ? -1
        : b === LOBBY
        ? 1
        : (rooms.get(b) ?? 0) - (rooms.get(a) ?? 0) || a.localeCompare(b)
    );
    roomList.replaceChildren(...names.map((name) => {
      const li = document.createElement("li");
      const link = document.createElement("a");
      link.className = "room-link";
      link.href = roomPath(name);
      if (name === room) link.setAttribute("aria-current", "page");
      const label = document.createElement("span");
      label.className = "room-link-name";
      label.textContent = name === LOBBY ? s("room_lobby") : name;
      const count = document.createElement("span");
      count.className = "room-link-count";
      count.textContent = s("room_users", { count: rooms.get(name) ?? 0 });
      link.append(label, " ", count);
      li.append(link);
      return li;
    }));
  }

  // ---- Side panel (a drawer on narrow screens) ----

  const narrow = matchMedia("(max-width: 47.99rem)");

  /**
   * @param {boolean} open
   * @param {boolean} [moveFocus]
   */
  function setPanel(open, moveFocus = true) {
    app.classList.toggle("panel-open", open);
    panelToggle.setAttribute("aria-expanded", String(open));
    scrim.hidden = !open;
    // While the drawer covers the page only the drawer can be reached
    const cover = open && narrow.matches;
    chatMain.inert = cover;
    header.inert = cover;
    if (!moveFocus) return;
    if (open) panelClose.focus();
    else panelToggle.focus();
  }

  // ---- Wiring ----

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendCurrent();
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    // isComposing: Enter that picks a candidate in a Chinese IME must not send
    if (
      event.key === "Enter" && !event.shiftKey && !event.altKey &&
      !event.isComposing && event.keyCode !== 229
    ) {
      event.preventDefault();
      sendCurrent();
    }
  });
  input.addEventListener("input", () => {
    const now = Date.now();
    if (input.value.trim() === "" || now - lastTypingSent < TYPING_SEND_MS) {
      return;
    }
    if (send({ type: "typing" })) lastTypingSent = now;
  });
  log.addEventListener("scroll", () => {
    if (!pill.hidden && isAtBottom()) pill.hidden = true;
  });
  pill.addEventListener("click", () => {
    scrollToBottom();
    input.focus();
  });
  roomForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const slug = roomSlug(roomInput.value);
    if (slug === null) {
      roomError.textContent = s("room_form_invalid");
      roomError.hidden = false;
      roomInput.setAttribute("aria-invalid", "true");
      roomInput.focus();
      return;
    }
    location.assign(roomPath(slug));
  });
  roomInput.addEventListener("input", () => {
    if (roomError.hidden) return;
    roomError.hidden = true;
    roomInput.removeAttribute("aria-invalid");
  });
  panelToggle.addEventListener("click", () => {
    setPanel(!app.classList.contains("panel-open"));
  });
  panelClose.addEventListener("click", () => setPanel(false));
  scrim.addEventListener("click", () => setPanel(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && app.classList.contains("panel-open")) {
      setPanel(false);
    }
  });
  narrow.addEventListener("change", () => setPanel(false, false));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && unread > 0) {
      unread = 0;
      renderTitle();
    }
  });
  addEventListener("offline", () => {
    // A socket can look open long after the network went; start over
    ws?.close();
    renderStatus();
  });
  addEventListener("online", () => {
    if (!ready && !stopped) {
      attempt = 0;
      connect();
    } else {
      renderStatus();
    }
  });
  // Logging out closes our socket with 4401 before the POST is answered;
  // going to /login ourselves then would abort the response that clears
  // the session cookie
  document.querySelector(".logout-form")?.addEventListener("submit", () => {
    stopped = true;
    clearTimers();
  });
  addEventListener("pagehide", () => {
    stopped = true;
    clearTimers();
    ws?.close(1000);
  });
  addEventListener("pageshow", (event) => {
    // Back from the back/forward cache: the old socket is gone
    if (event.persisted && stopped) {
      stopped = false;
      attempt = 0;
      connect();
    }
  });
  setInterval(() => {
    if (!document.hidden) refreshRooms();
  }, ROOMS_REFRESH_MS);
  // Focus the target ourselves: a fragment link alone only moves the
  // starting point of sequential navigation in some browsers
  document.querySelector(".skip-link")?.addEventListener("click", (event) => {
    event.preventDefault();
    input.focus();
  });

  // Ready to type on a desktop; on touch screens this would pop up the
  // keyboard over the messages
  if (matchMedia("(pointer: fine)").matches) input.focus();
  connect();
}

if (typeof document !== "undefined") {
  const app = document.getElementById("app");
  if (app) startChat(app);
}
