/**
 * A moderator removes any message: the `mod` frame's delete becomes a
 * `delete` event with by "moderator" in the room's pipeline, so it is
 * committed in the sequence before anyone sees it, replayed on resume and
 * carried to other instances like an author's. Once committed it is
 * confirmed to the moderator and written to the audit log.
 *
 * @module
 */
import { errorText, type Logger } from "../app/log.ts";
import type { Connection } from "../chat/connection.ts";
import type { AuditLog } from "./audit_log.ts";
import { markModeratorDelete, type ModeratorDelete } from "./gate.ts";
import { modError, type ModRequest } from "./mod_frames.ts";

/** Hands a moderator's delete to the room (the caller checked the role). */
export function requestDelete(member: Connection, request: ModRequest): void {
  if (member.state !== "joined") {
    member.send(
      modError("bad_request", "Not in the room yet: wait for the welcome", {
        action: "delete",
      }),
    );
    return;
  }
  const change = { type: "delete" as const, target: request.target! };
  // The mark is what lets it skip the author check (room_events.ts).
  markModeratorDelete(change, {
    target: change.target,
    reason: request.reason ?? "",
  });
  member.room.accept(member, change);
}

/** Confirms a committed moderator's delete and audits it: who, whose message, room, reason. */
export function confirmDelete(
  member: Connection,
  removal: ModeratorDelete & { id: number },
  deps: { audit: AuditLog; log: Logger; now: number },
): void {
  const by = member.session.nickname;
  const room = member.room.name;
  deps.log("Moderation action", {
    by,
    action: "delete",
    target: removal.author,
  }, { level: "info" });
  member.send(JSON.stringify({
    type: "mod_ok",
    action: "delete",
    target: removal.target,
    id: removal.id,
  }));
  deps.audit.record({
    by,
    action: "delete",
    room,
    message: removal.target,
    ...(removal.author !== undefined ? { target: removal.author } : {}),
    ...(removal.reason ? { reason: removal.reason } : {}),
  }, deps.now).catch((err) =>
    deps.log("Recording a moderator's delete failed", {
      error: errorText(err),
    })
  );
}
