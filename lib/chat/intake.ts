/**
 * The first step of a room's pipeline: what a member's frame becomes. Its
 * session's policy decides, and a refusal is answered on that socket alone
 * (an `error` frame, a re-confirmation, or a close for abuse). Every refusal
 * is a strike toward that close, so no frame a client repeats is free.
 *
 * @module
 */
import { countRateLimited } from "../app/telemetry.ts";
import {
  markModeratorDelete,
  moderationRefusal,
  moderatorDelete,
} from "../moderation/gate.ts";
import type { Connection } from "./connection.ts";
import type { AddressLimiter } from "./limits.ts";
import {
  type ChangeRequest,
  type ChatMessage,
  checkMessageText,
  type ClientRequest,
  CLOSE,
  errorFrame,
  type SequencedEvent,
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

/** A frame that passed: a typing event to pass on, or a message or change to commit (id 0 until stored). */
export type Accepted = TypingEvent | SequencedEvent;

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
  if (request.type === "error") return undefined;
  if (request.type !== "message") return change(member, request, ctx);
  const checked = checkText(member, request.text, ctx);
  if (!checked) return undefined;
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
  if (!mayPost(member, ctx)) return undefined;
  const message: ChatMessage = {
    type: "message",
    id: 0,
    nickname: session.nickname,
    text: checked.text,
    ts: ctx.now,
  };
  if (request.cid !== undefined) message.cid = request.cid;
  if (request.replyTo !== undefined) message.replyTo = request.replyTo;
  policy.remember(message);
  return message;
}

/**
 * An edit, delete or react frame as an event to commit. Its target is
 * checked at the commit (room_events.ts), which reads the store; here only
 * what the frame alone shows, and the rate limit, which changes share with
 * messages.
 */
function change(
  member: Connection,
  request: ChangeRequest,
  ctx: IntakeContext,
): SequencedEvent | undefined {
  const { nickname } = member.session;
  const { target } = request;
  const ts = ctx.now;
  if (request.type === "edit") {
    const checked = checkText(member, request.text, ctx);
    if (!checked || !mayPost(member, ctx)) return undefined;
    const edit: SequencedEvent = {
      type: "edit",
      id: 0,
      ts,
      target,
      text: checked.text,
      nickname,
    };
    if (request.cid !== undefined) edit.cid = request.cid;
    return edit;
  }
  if (!mayPost(member, ctx)) return undefined;
  if (request.type === "delete") {
    // A moderator's only through moderation.ts's mark on the request.
    const removal = moderatorDelete(member, request);
    const by = removal ? "moderator" : "author";
    const event: SequencedEvent = { type: "delete", id: 0, ts, target, by };
    if (removal) markModeratorDelete(event, removal);
    return event;
  }
  // Whether it goes on or off is known only against the stored message.
  const { emoji } = request;
  return { type: "reaction", id: 0, ts, target, emoji, nickname, on: true };
}

/** The checked text of a message or edit; a refusal is answered and struck. */
function checkText(
  member: Connection,
  text: string,
  ctx: IntakeContext,
): { text: string } | undefined {
  const checked = checkMessageText(text, ctx.maxMessageChars);
  if (checked.ok) return checked;
  if (!strike(member, ctx.now)) {
    member.send(errorFrame(checked.code, checked.message));
  }
  return undefined;
}

/**
 * Whether a member may post now: a token from its session's and its
 * address's buckets, and no mute, lock or slow mode (lib/moderation/) in
 * the way; false when refused (answered, or closed for abuse).
 */
function mayPost(
  member: Connection,
  ctx: { now: number; room: string; addresses: AddressLimiter },
): boolean {
  if (!takeToken(member, ctx)) return false;
  const refusal = moderationRefusal(member, ctx.room, { now: ctx.now });
  if (refusal === undefined) return true;
  // A refusal is a strike too, so a muted flooder is still closed.
  if (!strike(member, ctx.now)) member.send(refusal);
  return false;
}

/** Takes a token from the session's and the address's buckets; false (answered, or closed for abuse) when one is empty. */
function takeToken(
  member: Connection,
  ctx: { now: number; addresses: AddressLimiter },
): boolean {
  const verdict = member.session.policy.takeMessage(ctx.now);
  if (verdict.kind !== "ok") countRateLimited("message");
  if (verdict.kind === "abuse") {
    closeForAbuse(member);
    return false;
  }
  if (verdict.kind === "wait") {
    refuseForRate(member, verdict.seconds);
    return false;
  }
  // The address's bucket, across all its sessions: fresh logins lift no limit.
  const addressWait = ctx.addresses.take(member.ip, ctx.now);
  if (addressWait > 0) {
    countRateLimited("address_messages");
    refuseForRate(member, Math.ceil(addressWait * 10) / 10);
    return false;
  }
  return true;
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
