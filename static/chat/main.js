// @ts-check
/**
 * The chat page's entry module (templates/chat_page.tsx loads it): builds
 * each part of the page and wires them to one another. The parts render
 * user text with textContent only, never as markup.
 *
 * @module
 */
import { LOBBY } from "../shared/protocol.js";
import { createComposeContext } from "./compose_context.js";
import { createComposer } from "./composer.js";
import { createConnection } from "./connection.js";
import { createFrameHandler } from "./frames.js";
import { createIgnoreList, pageStorage } from "./ignore_list.js";
import { createMentions } from "./mentions.js";
import { createMessageActions } from "./message_actions.js";
import { createMessageLog } from "./message_log.js";
import { createModDialog } from "./mod_dialog.js";
import { createOutbox } from "./outbox.js";
import { pageStrings } from "./page.js";
import { createPresence } from "./presence.js";
import { createRoomControls } from "./room_controls.js";
import { createRoomRules } from "./room_rules.js";
import { createRoomState } from "./room_state.js";
import { createRoomsPanel } from "./rooms_panel.js";
import { createScrollback } from "./scrollback.js";
import { createUnread } from "./unread.js";
import { nickColourRules } from "./text.js";
import { createUserMenu } from "./user_menu.js";

/**
 * Starts the chat client on the page rendered by templates/chat_page.tsx.
 * @param {HTMLElement} app
 */
export function startChat(app) {
  const room = app.dataset.room ?? LOBBY;
  const lang = app.dataset.lang ?? document.documentElement.lang ?? "en";
  const s = pageStrings();
  const editWindowMs = Number(app.dataset.editWindowMinutes ?? 15) * 60_000;
  adoptNickColours();
  const unread = createUnread({ room });
  const roomState = createRoomState();

  // The parts call each other back only once the socket opens, after all
  // of them exist
  const conn = createConnection({
    room,
    s,
    resume: () => ({ since: frames.lastId, epoch: frames.epoch }),
    onFrame(frame) {
      frames.handle(frame);
      unread.seen(frames.lastId);
    },
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
    me: () => presence.me,
    names: () => mentions.names(),
  });
  if (unread.previous > 0) log.markNewSince(unread.previous);
  const presence = createPresence({
    lang,
    s,
    me: app.dataset.nickname ?? "",
    onChange() {
      rooms.redraw();
      mentions.peopleChanged();
    },
  });
  const mentions = createMentions({
    s,
    room,
    presence,
    onMention: () => log.countMention(),
  });
  const scrollback = createScrollback({
    room,
    s,
    log,
    epoch: () => frames.epoch,
  });
  const context = createComposeContext({
    s,
    onCancel: (was) => {
      if (was.kind === "edit") composer.set("");
    },
  });
  /** @param {unknown} frame */
  function sendChange(frame) {
    if (!conn.send(frame)) log.notice(s("status_offline"), "error");
  }
  createMessageActions({
    s,
    log,
    me: () => presence.me,
    editWindowMs,
    send: sendChange,
    onReply(message) {
      context.set("reply", message);
      composer.focus();
    },
    onEdit(message) {
      context.set("edit", message);
      composer.set(message.text);
    },
    jump: (id) => scrollback.jump(id),
    isModerator: () => roomState.rules.moderator,
  });
  const rooms = createRoomsPanel({
    app,
    room,
    s,
    usersHere: () => presence.size,
    isReady: () => conn.ready,
    readQuery: () => unread.query(),
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
    onSend(text) {
      const now = context.current;
      if (now?.kind === "edit") {
        if (!conn.send({ type: "edit", target: now.message.id, text })) {
          composer.restore(text);
          log.notice(s("status_offline"), "error");
          return;
        }
      } else outbox.add(text, context.quote());
      context.clear();
    },
    sendTyping: () => conn.send({ type: "typing" }),
    onKey(event) {
      if (mentions.key(event)) return true;
      if (event.key === "Escape" && context.current) {
        if (context.current.kind === "edit") composer.set("");
        context.clear();
        return true;
      }
      // Up in an empty box edits one's last message, as in Slack
      if (event.key !== "ArrowUp" || composer.value !== "") return false;
      const last = log.index.lastOf(presence.me);
      if (!last || Date.now() - last.ts >= editWindowMs) return false;
      event.preventDefault();
      context.set("edit", last);
      composer.set(last.text);
      return true;
    },
  });
  // people moderation: badges, the user menu, the moderation dialog and
  // the ignore list. A moderator is never hidden, nor am I
  const ignored = createIgnoreList({ storage: pageStorage() });
  const people = createModDialog({
    s,
    lang,
    log,
    send: (frame) => conn.send(frame),
  });
  const userMenu = createUserMenu({
    s,
    log,
    roomState,
    ignored,
    dialog: people,
  });
  /** @param {string} nickname */
  const isModerator = (nickname) => roomState.isModerator(nickname);
  /** @param {string} nickname */
  const isIgnored = (nickname) =>
    nickname !== presence.me && ignored.has(nickname) &&
    !isModerator(nickname);
  log.setPeople({ isModerator, isIgnored });
  presence.setPeople({
    isModerator,
    isIgnored,
    onRender: () => userMenu.placed(),
  });
  let moderatorsWere = "";
  roomState.listen((rules) => {
    const now = [...rules.moderators].sort().join("\n") + rules.moderator;
    if (now === moderatorsWere) return;
    moderatorsWere = now;
    presence.redraw();
    for (const message of log.index.messages()) log.changed(message.id);
  });
  ignored.listen((nickname) => {
    presence.redraw();
    for (const message of log.index.messages()) {
      if (message.nickname === nickname) log.reveal(message.id, false);
      else if (message.reply?.nickname === nickname) log.changed(message.id);
    }
  });
  const frames = createFrameHandler({
    s,
    conn,
    log,
    outbox,
    presence,
    rooms,
    roomState,
    isIgnored,
    arrived: (message, initial) => {
      // people moderation: an ignored person's mention notifies nobody
      if (!isIgnored(message.nickname)) mentions.arrived(message, initial);
    },
    onWelcomed: () => scrollback.fill(),
    onModAnswer: (answer) => {
      people.answered(answer);
      roomControls.answered(answer);
    },
  });
  // room moderation: the rules everyone sees, and the moderators' controls
  createRoomRules({ s, lang, roomState, composer });
  const roomControls = createRoomControls({
    s,
    roomState,
    send: (frame) => conn.send(frame),
  });
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
