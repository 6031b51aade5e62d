// @ts-check
/**
 * The room's WebSocket: opening it, reconnecting with backoff, acting on
 * the server's close codes, and the status badge that tells people which
 * of these is going on.
 *
 * @module
 */
import { CLOSE } from "../shared/protocol.js";
import { socketUrl } from "./addresses.js";
import { byId } from "./page.js";

/**
 * @typedef {"connecting" | "connected" | "reconnecting" | "offline"} Status
 * @typedef {ReturnType<typeof setTimeout>} Timer
 */

/**
 * Milliseconds to wait before reconnect attempt `attempt` (0-based).
 * Doubling from 1 s to 30 s, each a random point in the upper half, so a
 * restarted server is not hit by every client in the same instant.
 * @param {number} attempt
 * @param {() => number} [random]
 * @returns {number}
 */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(30_000, 1000 * 2 ** Math.max(0, attempt));
  return Math.max(1000, Math.round(ceiling / 2 + random() * ceiling / 2));
}

/**
 * Keeps one socket to `room` open for as long as the page is shown.
 * @param {{ room: string, s: import("./page.js").Translate,
 *   resume: () => { since: number, epoch: string }, onFrame: (frame: unknown) => void,
 *   onLost: (refused?: string) => void,
 *   notice: (text: string, kind?: "info" | "error") => void,
 *   onShown: (offline: boolean) => void }} options
 *   `onLost` hears of every lost socket, with a reason when what was in
 *   flight must not be resent; `onShown` of each badge update
 */
export function createConnection(
  { room, s, resume, onFrame, onLost, notice, onShown },
) {
  const badge = byId("conn-badge");
  const liveStatus = byId("conn-live");
  /** @type {WebSocket | null} */
  let ws = null;
  /** True once the current socket got its welcome */
  let ready = false;
  /** True once any socket got a welcome: later ones ask for `since` */
  let welcomed = false;
  let attempt = 0;
  let reconnectAt = 0;
  /** @type {Timer | undefined} */
  let reconnectTimer;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let countdownTimer;
  /** Set when the page is leaving or the session is gone: no reconnects */
  let stopped = false;
  /** @type {Status} */
  let status = "connecting";

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
      socketUrl(location, room, welcomed ? resume() : undefined),
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
      onFrame(frame);
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
    // Whatever was in flight may be lost: it is resent, same cid, later,
    // unless the frame was too big, when resending would be refused again
    onLost(
      !stopped && code === CLOSE.TOO_BIG ? s("close_too_big") : undefined,
    );
    if (stopped) return;
    if (code === CLOSE.SESSION_INVALID || code === CLOSE.NICK_TAKEN) {
      // The session is gone or the nickname is someone else's now
      stopped = true;
      location.assign("/login");
      return;
    }
    if (code === CLOSE.KICKED || code === CLOSE.BANNED) {
      // A moderator's decision: reconnecting by itself would undo a kick
      stopped = true;
      notice(
        s(code === CLOSE.KICKED ? "close_kicked" : "close_banned"),
        "error",
      );
      setStatus("offline");
      return;
    }
    if (code === CLOSE.RESTART) {
      notice(s("notice_restarting"));
      scheduleReconnect(0);
      return;
    }
    if (code === CLOSE.TOO_BIG) {
      notice(s("close_too_big"), "error");
    } else if (code === CLOSE.POLICY) {
      notice(s("close_policy"), "error");
    } else if (code === CLOSE.TRY_AGAIN) {
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
    onShown(shown === "offline");
  }

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
  // Logging out closes our socket (SESSION_INVALID) before the POST is answered;
  // going to /login ourselves then would abort the response that clears
  // the session cookie
  document.querySelector(".logout-form")?.addEventListener("submit", () => {
    stopped = true;
    clearTimers();
  });
  addEventListener("pagehide", () => {
    stopped = true;
    clearTimers();
    ws?.close(CLOSE.NORMAL);
  });
  addEventListener("pageshow", (event) => {
    // Back from the back/forward cache: the old socket is gone
    if (event.persisted && stopped) {
      stopped = false;
      attempt = 0;
      connect();
    }
  });

  return {
    /** Opens the socket; later ones open by themselves. */
    connect,

    /** True once the current socket got its welcome, so frames may be sent. */
    get ready() {
      return ready;
    },

    /** True once any socket got a welcome. */
    get welcomed() {
      return welcomed;
    },

    /** Records the current socket's welcome: connected, backoff starts over. */
    welcome() {
      welcomed = true;
      ready = true;
      attempt = 0;
      setStatus("connected");
    },

    /**
     * Sends a frame on a welcomed socket; false when there is none.
     * @param {unknown} frame
     * @returns {boolean}
     */
    send(frame) {
      if (!ws || !ready || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(frame));
      return true;
    },
  };
}
