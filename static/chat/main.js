// @ts-check
/**
 * The chat page's entry module (templates/chat_page.tsx loads it): builds
 * each part of the page and wires them to one another. The parts render
 * user text with textContent only, never as markup.
 *
 * @module
 */
import { LOBBY } from "../shared/protocol.js";
import { createComposer } from "./composer.js";
import { createConnection } from "./connection.js";
import { createFrameHandler } from "./frames.js";
import { createMessageLog } from "./message_log.js";
import { createOutbox } from "./outbox.js";
import { pageStrings } from "./page.js";
import { createPresence } from "./presence.js";
import { createRoomsPanel } from "./rooms_panel.js";
import { nickColourRules } from "./text.js";

/**
 * Starts the chat client on the page rendered by templates/chat_page.tsx.
 * @param {HTMLElement} app
 */
export function startChat(app) {
  const room = app.dataset.room ?? LOBBY;
  const lang = app.dataset.lang ?? document.documentElement.lang ?? "en";
  const s = pageStrings();
  adoptNickColours();

  // The parts call each other back only once the socket opens, after all
  // of them exist
  const conn = createConnection({
    room,
    s,
    resume: () => ({ since: frames.lastId, epoch: frames.epoch }),
    onFrame: (frame) => frames.handle(frame),
    onLost(refused) {
      outbox.requeue(refused);
      presence.clearTyping();
    },
    notice: (text, kind) => log.notice(text, kind),
    onShown: (offline) => composer.setOffline(offline),
  });
  const log = createMessageLog({
    lang,
    s,
    isWelcomed: () => conn.welcomed,
    onPill: () => composer.focus(),
  });
  const presence = createPresence({
    lang,
    s,
    me: app.dataset.nickname ?? "",
    onChange: () => rooms.redraw(),
  });
  const rooms = createRoomsPanel({
    app,
    room,
    s,
    usersHere: () => presence.size,
    isReady: () => conn.ready,
  });
  const outbox = createOutbox({
    s,
    log,
    send: (frame) => conn.send(frame),
    isReady: () => conn.ready,
    me: () => presence.me,
    onRefused: (text) => composer.restore(text),
  });
  const composer = createComposer({
    onSend: (text) => outbox.add(text),
    sendTyping: () => conn.send({ type: "typing" }),
  });
  const frames = createFrameHandler({ s, conn, log, outbox, presence, rooms });
  conn.connect();
}

/**
 * Gives the nickname colour classes their rules, in a sheet of their own.
 * The CSP allows no inline style, but a constructed sheet is not inline.
 * A browser without constructed sheets shows nicknames in the text colour.
 */
function adoptNickColours() {
  if (!("adoptedStyleSheets" in Document.prototype)) return;
  const sheet = new CSSStyleSheet();
  for (const rule of nickColourRules()) {
    sheet.insertRule(rule, sheet.cssRules.length);
  }
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}

const app = document.getElementById("app");
if (app) startChat(app);
