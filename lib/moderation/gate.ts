/**
 * Where the chat pipeline asks moderation: may this member post here, and
 * what the room looks like after a welcome. Each hub binds its sessions to
 * its own moderation (two apps in one process each have their own), so the
 * pipeline's files need one call each and no new parameter.
 *
 * @module
 */
import type { Connection } from "../chat/connection.ts";
import type { ChatSession } from "../chat/sessions.ts";

/** What a hub reaches of this instance's connections. */
export interface HubPort {
  /** Every connection holding a slot, in any state. */
  connections(): Iterable<Connection>;
  /** Ends a session here (a ban): its sockets close with `close` and its nickname is freed. */
  endSession(
    sid: string,
    nickname: string,
    close: { code: number; reason: string },
  ): Promise<void>;
}

/** What the pipeline calls on moderation. */
export interface ModerationGate {
  /** Gives moderation the hub's connections, once. */
  connect(hub: HubPort): void;
  /** Handles a `mod` frame; false for every other frame. */
  intercept(member: Connection, data: string): boolean;
  /**
   * Why `member` may not post (or, with `typing`, signal typing) in `room`
   * now: an error frame's text, "" to drop silently, undefined to pass.
   */
  refusal(
    member: Connection,
    room: string,
    options: { now: number; typing?: boolean },
  ): string | undefined;
  /** Sends a new member the room's state (topic, slow mode, lock, moderators). */
  welcomed(member: Connection): void;
  /** Whether a connected session is a moderator's. */
  isModerator(session: ChatSession): boolean;
  /** Audits and confirms a moderator's delete once it is committed. */
  deleted(member: Connection, removal: ModeratorDelete & { id: number }): void;
}

/** A moderator's removal of a message, from its `mod` frame to its commit. */
export interface ModeratorDelete {
  target: number;
  reason: string;
  /** The removed message's author, learnt at the commit's check. */
  author?: string;
}

const gates = new WeakMap<ChatSession, ModerationGate>();

/** Binds a session to its hub's moderation (hub.ts, at attach). */
export function bindGate(session: ChatSession, gate: ModerationGate): void {
  gates.set(session, gate);
}

/** Why `member` may not post in `room` (intake.ts); undefined when it may or no moderation runs. */
export function moderationRefusal(
  member: Connection,
  room: string,
  options: { now: number; typing?: boolean },
): string | undefined {
  return gates.get(member.session)?.refusal(member, room, options);
}

/** Called once a member is welcomed (room.ts). */
export function afterWelcome(member: Connection): void {
  gates.get(member.session)?.welcomed(member);
}

// Only moderation.ts marks a request, and intake.ts carries the mark to
// the event: no field of a client's frame can make a delete a moderator's.
const removals = new WeakMap<object, ModeratorDelete>();

/** Marks a delete request or event as a moderator's (moderation.ts, intake.ts). */
export function markModeratorDelete(
  item: object,
  removal: ModeratorDelete,
): void {
  removals.set(item, removal);
}

/** The moderator's removal `item` carries, if it is marked and `member` is a moderator now. */
export function moderatorDelete(
  member: Connection | undefined,
  item: object,
): ModeratorDelete | undefined {
  const removal = removals.get(item);
  if (!removal || !member) return undefined;
  return gates.get(member.session)?.isModerator(member.session)
    ? removal
    : undefined;
}

/** Called once a moderator's delete is committed with `id` (room_events.ts). */
export function afterModeratorDelete(
  member: Connection,
  event: { id: number },
): void {
  const removal = removals.get(event);
  if (removal) {
    gates.get(member.session)?.deleted(member, { ...removal, id: event.id });
  }
}
