/**
 * The first step of a room's pipeline: what a member's frame becomes. Its
 * session's policy decides, and a refusal is answered on that socket alone
 * (an `error` frame, a re-confirmation, or a close for abuse). Every refusal
 * is a strike toward that close, so no frame a client repeats is free.
 *
 * @module
 */
import { countRateLimited } from "../app/telemetry.ts";
import { moderationRefusal } from "../moderation/gate.ts";
import type { Connection } from "./connection.ts";
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
    const muted = moderationRefusal(member, ctx.room, {
      now: ctx.now,
      typing: true,
    });
    if (muted === undefined && policy.allowTyping(ctx.room, ctx.now)) {
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
    member.send(errorFrame(
      "rate_limited",
      `Too many messages: wait ${verdict.seconds} s before sending again`,
      { retryAfter: verdict.seconds },
    ));
    return undefined;
  }
  // Mute, lock and slow mode (lib/moderation/): a refusal is a strike too.
  const refusal = moderationRefusal(member, ctx.room, { now: ctx.now });
  if (refusal !== undefined) {
    if (!strike(member, ctx.now)) member.send(refusal);
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

function closeForAbuse(member: Connection): void {
  member.close(CLOSE.POLICY, "Rate limit exceeded");
}
