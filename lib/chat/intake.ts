/**
 * The first step of a room's pipeline: what a member's frame becomes. Its
 * session's policy decides, and a refusal is answered on that socket alone
 * (an `error` frame, a re-confirmation, or a close for abuse). Every refusal
 * is a strike toward that close, so no frame a client repeats is free.
 *
 * @module
 */
import { countRateLimited } from "../app/telemetry.ts";
import type { Connection } from "./connection.ts";
import type { AddressLimiter } from "./limits.ts";
import {
  type ChatMessage,
  checkMessageText,
  type ClientRequest,
  CLOSE,
  errorFrame,
  type TypingEvent,
} from "./protocol.ts";

/** What {@linkcode intake} needs to know about the room and the moment. */
export interface IntakeContext {
  room: string;
  now: number;
  maxMessageChars: number;
  /** The per-address message bucket, taken after the session's own. */
  addresses: AddressLimiter;
}

/** A frame that passed: a typing event to pass on, or a message to commit (id 0 until stored). */
export type Accepted = TypingEvent | ChatMessage;

/** Turns one member's frame into an event for the room, or answers the member and returns nothing. */
export function intake(
  member: Connection,
  request: ClientRequest,
  ctx: IntakeContext,
): Accepted | undefined {
  const { session } = member;
  const { policy } = session;
  if (request.type === "typing") {
    if (policy.allowTyping(ctx.room, ctx.now)) {
      return { type: "typing", nickname: session.nickname };
    }
    strike(member, ctx.now);
    return undefined;
  }
  if (request.type !== "message") return undefined;
  const checked = checkMessageText(request.text, ctx.maxMessageChars);
  if (!checked.ok) {
    if (!strike(member, ctx.now)) {
      member.send(errorFrame(checked.code, checked.message));
    }
    return undefined;
  }
  if (request.cid !== undefined) {
    const seen = policy.seen(request.cid);
    if (seen) {
      // A retry of a message already taken: confirm it again, post nothing.
      // Each retry costs a strike, so resending one cid is no free echo.
      if (!strike(member, ctx.now) && seen.id > 0) {
        member.send(JSON.stringify(seen));
      }
      return undefined;
    }
  }
  const verdict = policy.takeMessage(ctx.now);
  if (verdict.kind !== "ok") countRateLimited("message");
  if (verdict.kind === "abuse") {
    closeForAbuse(member);
    return undefined;
  }
  if (verdict.kind === "wait") {
    refuseForRate(member, verdict.seconds);
    return undefined;
  }
  const addressWait = ctx.addresses.take(member.ip, ctx.now);
  if (addressWait > 0) {
    countRateLimited("address_messages");
    refuseForRate(member, Math.ceil(addressWait * 10) / 10);
    return undefined;
  }
  const message: ChatMessage = {
    type: "message",
    id: 0,
    nickname: session.nickname,
    text: checked.text,
    ts: ctx.now,
  };
  if (request.cid !== undefined) message.cid = request.cid;
  policy.remember(message);
  return message;
}

/** Counts a refused frame against the member's session; true when that closed the socket (1008). */
export function strike(member: Connection, now: number): boolean {
  if (!member.session.policy.strike(now)) return false;
  closeForAbuse(member);
  return true;
}

function refuseForRate(member: Connection, seconds: number): void {
  member.send(errorFrame(
    "rate_limited",
    `Too many messages: wait ${seconds} s before sending again`,
    { retryAfter: seconds },
  ));
}

function closeForAbuse(member: Connection): void {
  member.close(CLOSE.POLICY, "Rate limit exceeded");
}
