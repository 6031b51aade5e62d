/**
 * The client frames that change an earlier message (edit, delete, react):
 * their shapes and the parser for each. The emoji check is shared with the
 * page (static/shared/protocol.js).
 *
 * @module
 */
import { isReactionEmoji } from "../../static/shared/protocol.js";
import type { ErrorCode } from "./protocol.ts";

/** Longest client message id accepted for de-duplication. */
export const MAX_CID_LENGTH = 64;

/** A parsed edit, delete or react frame. */
export type ChangeRequest =
  | { type: "edit"; target: number; text: string; cid?: string }
  | { type: "delete"; target: number }
  | { type: "react"; target: number; emoji: string };

/** A frame the parser refused, with why. */
export interface Refused {
  type: "error";
  code: ErrorCode;
  message: string;
}

/** Whether `value` can be a message id: a whole number from 1 up. */
export function isMessageId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/** Whether `value` is a valid client message id. */
export function isCid(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 &&
    value.length <= MAX_CID_LENGTH;
}

const FIELDS = {
  edit: ["type", "target", "text", "cid"],
  delete: ["type", "target"],
  react: ["type", "target", "emoji"],
} as const;

function bad(message: string): Refused {
  return { type: "error", code: "bad_request", message };
}

/** Parses an edit, delete or react frame already known to be a JSON object of that type. */
export function parseChangeFrame(
  type: ChangeRequest["type"],
  frame: Record<string, unknown>,
): ChangeRequest | Refused {
  const allowed: readonly string[] = FIELDS[type];
  for (const key of Object.keys(frame)) {
    if (!allowed.includes(key)) {
      return bad(`Invalid ${type} frame: unknown field "${key.slice(0, 32)}"`);
    }
  }
  const target = frame.target;
  if (!isMessageId(target)) {
    return bad(`Invalid ${type} frame: "target" must be a message id`);
  }
  if (type === "delete") return { type, target };
  if (type === "react") {
    if (typeof frame.emoji !== "string" || !isReactionEmoji(frame.emoji)) {
      return bad(
        `Invalid reaction "${
          String(frame.emoji).slice(0, 16)
        }": expected one emoji`,
      );
    }
    return { type, target, emoji: frame.emoji };
  }
  if (typeof frame.text !== "string") {
    return bad('Invalid edit frame: "text" must be a string');
  }
  if (frame.cid !== undefined && !isCid(frame.cid)) {
    return bad(
      `Invalid edit frame: "cid" must be a string of 1 to ${MAX_CID_LENGTH} characters`,
    );
  }
  const edit: ChangeRequest = { type, target, text: frame.text };
  if (frame.cid !== undefined) edit.cid = frame.cid;
  return edit;
}
