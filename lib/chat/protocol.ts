/**
 * The WebSocket protocol: frame shapes, error codes, close codes, and the
 * parser that turns an untrusted text frame into a typed request.
 *
 * @module
 */
import {
  type ChangeRequest,
  isCid,
  isMessageId,
  MAX_CID_LENGTH,
  parseChangeFrame,
} from "./change_frames.ts";
export type { ChangeRequest } from "./change_frames.ts";
export {
  CLIENT_FRAMES,
  CLOSE,
  isRoomName,
  LOBBY,
  MAX_ROOM_LENGTH,
  ROOM_PATTERN,
  SERVER_FRAMES,
} from "../../static/shared/protocol.js";

/** The quoted start of the message a reply answers, so a page shows it without loading it. */
export interface ReplySnippet {
  id: number;
  nickname: string;
  text: string;
}

/** A chat message as stored and as sent: `id` is its room sequence. */
export interface ChatMessage {
  type: "message";
  id: number;
  nickname: string;
  text: string;
  ts: number;
  cid?: string;
  /** The id of the message this one answers. */
  replyTo?: number;
  reply?: ReplySnippet;
  /** History only (welcome, scrollback): the message's latest state. */
  edited?: boolean;
  deleted?: boolean;
  deletedBy?: DeletedBy;
  reactions?: Record<string, string[]>;
}

/** Who removed a message: its author, or a moderator (issue 15). */
export type DeletedBy = "author" | "moderator";

/** A message's new text, from its author. */
export interface EditEvent {
  type: "edit";
  id: number;
  ts: number;
  target: number;
  text: string;
  nickname: string;
  cid?: string;
}

/** A message removed: its text is gone from history. */
export interface DeleteEvent {
  type: "delete";
  id: number;
  ts: number;
  target: number;
  by: DeletedBy;
}

/** A reaction put on (`on: true`) or taken off a message. */
export interface ReactionEvent {
  type: "reaction";
  id: number;
  ts: number;
  target: number;
  emoji: string;
  nickname: string;
  on: boolean;
}

/** A change to an earlier message. */
export type ChangeEvent = EditEvent | DeleteEvent | ReactionEvent;

/** What takes an id in the room's sequence: messages and the changes to them. */
export type SequencedEvent = ChatMessage | ChangeEvent;

/** Whether `event` takes an id in the room's sequence (committed, replayed, sequenced). */
export function isSequenced<T extends { type: string }>(
  event: T,
): event is Extract<T, SequencedEvent> {
  const { type } = event;
  return type === "message" || type === "edit" || type === "delete" ||
    type === "reaction";
}

/** Stable error codes sent in `{"type":"error"}` frames. */
export type ErrorCode =
  | "bad_request"
  | "too_long"
  | "empty"
  | "rate_limited"
  | "not_found"
  | "forbidden"
  | "edit_window_closed"
  | "too_many_reactions"
  | "internal";

/** Someone joined or left a room. */
export interface PresenceEvent {
  type: "join" | "leave";
  nickname: string;
  ts: number;
}

/** Someone is typing; never stored. */
export interface TypingEvent {
  type: "typing";
  nickname: string;
}

/** Every event fanned out to a room. */
export type RoomEvent = SequencedEvent | PresenceEvent | TypingEvent;

/** The first frame a socket gets. */
export interface WelcomeFrame {
  type: "welcome";
  nickname: string;
  room: string;
  users: string[];
  /** Messages in their latest state; on a recovered resume, every event after `since`. */
  history: SequencedEvent[];
  seq: number;
  /** The stream's epoch: a page resumes with it, and a new one means ids started over. */
  epoch: string;
  recovered: boolean;
}

/** An error answer to one client frame. */
export interface ErrorFrame {
  type: "error";
  code: ErrorCode;
  message: string;
  retryAfter?: number;
  /** Set on the answer to a `mod` frame: the action it refused. */
  action?: string;
}

/** A parsed client frame, or the error to answer it with. */
export type ClientRequest =
  | { type: "message"; text: string; cid?: string; replyTo?: number }
  | ChangeRequest
  | { type: "typing" }
  | { type: "error"; code: ErrorCode; message: string };

export { MAX_CID_LENGTH } from "./change_frames.ts";

/** What every joiner of one flush shares in its welcome frame. */
export type WelcomeShared = Omit<WelcomeFrame, "type" | "nickname" | "room">;

/** Serialises the shared part of a welcome frame once for every joiner who gets it. */
export function encodeWelcomeShared(shared: WelcomeShared): string {
  return JSON.stringify(shared);
}

/** A joiner's whole welcome frame: its own fields, then the shared part from {@linkcode encodeWelcomeShared}. */
export function encodeWelcome(
  own: { nickname: string; room: string },
  shared: string,
): string {
  const head: Pick<WelcomeFrame, "type" | "nickname" | "room"> = {
    type: "welcome",
    nickname: own.nickname,
    room: own.room,
  };
  // Both halves are JSON objects: join them into one.
  return `${JSON.stringify(head).slice(0, -1)},${shared.slice(1)}`;
}

/** A message's text once trimmed and checked, or why it was refused. */
export type TextCheck =
  | { ok: true; text: string }
  | { ok: false; code: "empty" | "too_long" | "bad_request"; message: string };

/** C0 controls but tab and newline: NUL and the others are never text a person typed. */
// deno-lint-ignore no-control-regex -- matching controls is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f]/;

/**
 * Trims a message's text and checks it is neither empty nor longer than
 * `maxChars` code points, and holds no C0 control (tab and newline aside)
 * and no lone surrogate, which a store or a page may mangle.
 */
export function checkMessageText(raw: string, maxChars: number): TextCheck {
  if (CONTROL.test(raw)) {
    return {
      ok: false,
      code: "bad_request",
      message: "Invalid message text: control characters are not allowed",
    };
  }
  if (!raw.isWellFormed()) {
    return {
      ok: false,
      code: "bad_request",
      message: "Invalid message text: it holds a lone surrogate",
    };
  }
  const text = raw.trim();
  if (text.length === 0) {
    return {
      ok: false,
      code: "empty",
      message: "Empty message: nothing was sent",
    };
  }
  if (text.length > maxChars && countCodePoints(text, maxChars) > maxChars) {
    return {
      ok: false,
      code: "too_long",
      message: `Message too long: at most ${maxChars} characters are allowed`,
    };
  }
  return { ok: true, text };
}

/** Code points in `text`, counting no further than one past `stopAfter`. */
function countCodePoints(text: string, stopAfter: number): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    if (++count > stopAfter) return count;
  }
  return count;
}

/** Serialises the events of one flush into a single frame. */
export function encodeEvents(events: RoomEvent[]): string {
  return events.length === 1
    ? JSON.stringify(events[0])
    : JSON.stringify({ type: "batch", events });
}

/** Builds an error frame's text. */
export function errorFrame(
  code: ErrorCode,
  message: string,
  extra: { retryAfter?: number; action?: string } = {},
): string {
  const frame: ErrorFrame = { type: "error", code, message };
  if (extra.retryAfter !== undefined) frame.retryAfter = extra.retryAfter;
  if (extra.action !== undefined) frame.action = extra.action;
  return JSON.stringify(frame);
}

/** UTF-8 size of `text`, computed without allocating. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Whether a text frame is larger than `maxBytes` in UTF-8. */
export function isOversized(text: string, maxBytes: number): boolean {
  // A UTF-16 unit is 1 to 3 UTF-8 bytes, so most frames are decided cheaply.
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return utf8Length(text) > maxBytes;
}

/** The outcome of {@linkcode parseJsonObject}. */
export type JsonObjectResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; why: "not JSON" | "expected a JSON object" };

/** Parses untrusted text that must be one JSON object (a frame, an export line). */
export function parseJsonObject(text: string): JsonObjectResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, why: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, why: "expected a JSON object" };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function bad(message: string): ClientRequest {
  return { type: "error", code: "bad_request", message };
}

/**
 * Parses a client text frame. Anything but the documented shapes is a
 * `bad_request`; text limits are checked by the caller, which knows them.
 */
export function parseClientFrame(data: string): ClientRequest {
  const parsed = parseJsonObject(data);
  if (!parsed.ok) return bad(`Invalid frame: ${parsed.why}`);
  const frame = parsed.value;
  const type = frame.type;
  if (type === "message") {
    for (const key of Object.keys(frame)) {
      if (
        key !== "type" && key !== "text" && key !== "cid" && key !== "replyTo"
      ) {
        return bad(
          `Invalid message frame: unknown field "${key.slice(0, 32)}"`,
        );
      }
    }
    if (typeof frame.text !== "string") {
      return bad('Invalid message frame: "text" must be a string');
    }
    const request: ClientRequest = { type: "message", text: frame.text };
    if (frame.replyTo !== undefined) {
      if (!isMessageId(frame.replyTo)) {
        return bad('Invalid message frame: "replyTo" must be a message id');
      }
      request.replyTo = frame.replyTo;
    }
    if (frame.cid !== undefined) {
      if (!isCid(frame.cid)) {
        return bad(
          `Invalid message frame: "cid" must be a string of 1 to ${MAX_CID_LENGTH} characters`,
        );
      }
      request.cid = frame.cid;
    }
    return request;
  }
  if (type === "edit" || type === "delete" || type === "react") {
    return parseChangeFrame(type, frame);
  }
  if (type === "typing") {
    if (Object.keys(frame).length !== 1) {
      return bad("Invalid typing frame: it takes no fields");
    }
    return { type: "typing" };
  }
  if (typeof type !== "string") {
    return bad('Invalid frame: "type" must be a string');
  }
  return bad(
    `Invalid frame type "${
      type.slice(0, 32)
    }": expected message, edit, delete, react or typing`,
  );
}
