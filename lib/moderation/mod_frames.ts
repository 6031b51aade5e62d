/**
 * The `mod` frame a moderator's page sends, parsed from untrusted text,
 * and the frames moderation answers with.
 *
 * @module
 */
import { isMessageId } from "../chat/change_frames.ts";
import { parseJsonObject } from "../chat/protocol.ts";

/** Every moderation action. */
export const MOD_ACTIONS = [
  "kick",
  "ban",
  "unban",
  "mute",
  "unmute",
  "slow",
  "lock",
  "unlock",
  "topic",
  "delete",
] as const;

/** One moderation action. */
export type ModAction = typeof MOD_ACTIONS[number];

/** How long a ban or mute lasts, as the frame names it, in ms (null: permanent). */
export const DURATIONS: Readonly<Record<string, number | null>> = {
  "10m": 10 * 60_000,
  "1h": 3600_000,
  "1d": 86400_000,
  "permanent": null,
};

/** Longest reason and topic, in code points. */
export const MAX_REASON_CHARS = 200;
/** Longest slow-mode interval: an hour. */
export const MAX_SLOW_SECONDS = 3600;

/** A parsed moderation request. */
export interface ModRequest {
  action: ModAction;
  nickname?: string;
  duration?: string;
  seconds?: number;
  text?: string;
  reason?: string;
  /** The message a `delete` removes. */
  target?: number;
  /** A ban also covers the addresses the user is connected from. */
  address?: boolean;
}

/** The outcome of {@linkcode parseModFrame}. */
export type ModParse =
  | { ok: true; request: ModRequest }
  | { ok: false; message: string };

const FIELDS = new Set([
  "type",
  "action",
  "nickname",
  "duration",
  "seconds",
  "text",
  "reason",
  "address",
  "target",
]);
const NEEDS_NICKNAME = new Set<ModAction>([
  "kick",
  "ban",
  "unban",
  "mute",
  "unmute",
]);

/**
 * The action a `mod` frame asks for (cheap for every other frame), as a string ("" when it names none),
 * or undefined when `data` is not a `mod` frame: every error answering one
 * carries it, so a page can tell which of its requests was refused.
 */
export function modFrameAction(data: string): string | undefined {
  if (!data.includes('"mod"')) return undefined;
  const parsed = parseJsonObject(data);
  if (!parsed.ok || parsed.value.type !== "mod") return undefined;
  const { action } = parsed.value;
  return typeof action === "string" ? action.slice(0, 32) : "";
}

function shortText(value: unknown, name: string): string | ModParse {
  if (typeof value !== "string") {
    return {
      ok: false,
      message: `Invalid mod frame: "${name}" must be a string`,
    };
  }
  const text = value.normalize("NFC").trim();
  // deno-lint-ignore no-control-regex -- matching controls is the point
  if (/[\u0000-\u001f\u007f]/.test(text) || !text.isWellFormed()) {
    return {
      ok: false,
      message: `Invalid mod frame: "${name}" holds control characters`,
    };
  }
  if ([...text].length > MAX_REASON_CHARS) {
    return {
      ok: false,
      message:
        `Invalid mod frame: "${name}" is longer than ${MAX_REASON_CHARS} characters`,
    };
  }
  return text;
}

/** Parses a `mod` frame; anything but the documented shape says why. */
export function parseModFrame(data: string): ModParse {
  const parsed = parseJsonObject(data);
  if (!parsed.ok) return { ok: false, message: `Invalid frame: ${parsed.why}` };
  const frame = parsed.value;
  for (const key of Object.keys(frame)) {
    if (!FIELDS.has(key)) {
      return {
        ok: false,
        message: `Invalid mod frame: unknown field "${key.slice(0, 32)}"`,
      };
    }
  }
  const action = frame.action as ModAction;
  if (!(MOD_ACTIONS as readonly unknown[]).includes(action)) {
    return {
      ok: false,
      message: `Invalid mod frame action "${
        String(frame.action).slice(0, 32)
      }": expected ${MOD_ACTIONS.join(", ")}`,
    };
  }
  const request: ModRequest = { action };
  if (NEEDS_NICKNAME.has(action)) {
    const nickname = shortText(frame.nickname, "nickname");
    if (typeof nickname !== "string") return nickname;
    if (!nickname) {
      return {
        ok: false,
        message: `Invalid mod frame: ${action} needs "nickname"`,
      };
    }
    request.nickname = nickname;
  }
  if (action === "ban" || action === "mute") {
    const duration = frame.duration ?? "10m";
    if (typeof duration !== "string" || !(duration in DURATIONS)) {
      return {
        ok: false,
        message: `Invalid mod frame duration "${
          String(duration).slice(0, 16)
        }": expected 10m, 1h, 1d or permanent`,
      };
    }
    request.duration = duration;
  }
  if (action === "delete") {
    if (!isMessageId(frame.target)) {
      return {
        ok: false,
        message: 'Invalid mod frame: delete needs "target", a message id',
      };
    }
    request.target = frame.target;
  } else if (frame.target !== undefined) {
    return {
      ok: false,
      message: 'Invalid mod frame: "target" is for delete only',
    };
  }
  if (frame.address !== undefined) {
    if (action !== "ban" || typeof frame.address !== "boolean") {
      return {
        ok: false,
        message: 'Invalid mod frame: "address" is true or false, for ban only',
      };
    }
    request.address = frame.address;
  }
  if (action === "slow") {
    const seconds = frame.seconds;
    if (
      typeof seconds !== "number" || !Number.isInteger(seconds) ||
      seconds < 0 || seconds > MAX_SLOW_SECONDS
    ) {
      return {
        ok: false,
        message:
          `Invalid mod frame: "seconds" must be a whole number from 0 to ${MAX_SLOW_SECONDS}`,
      };
    }
    request.seconds = seconds;
  }
  if (action === "topic") {
    const text = shortText(frame.text ?? "", "text");
    if (typeof text !== "string") return text;
    request.text = text;
  }
  if (frame.reason !== undefined) {
    const reason = shortText(frame.reason, "reason");
    if (typeof reason !== "string") return reason;
    if (reason) request.reason = reason;
  }
  return { ok: true, request };
}

/** An `error` frame of moderation's own codes. */
export function modError(
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({ type: "error", code, message, ...extra });
}
