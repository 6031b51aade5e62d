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
