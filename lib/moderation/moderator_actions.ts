/**
 * What each moderation action does: store it in KV, take effect on this
 * instance, signal the others, and write the audit log. The caller has
 * checked that the actor is a moderator.
 *
 * @module
 */
import { nicknameKey, validateNickname } from "../auth/nicknames.ts";
import type { AuditInput } from "./audit_log.ts";
import { DURATIONS, type ModRequest } from "./mod_frames.ts";
import type { Moderation } from "./moderation.ts";
import type { RoomRules } from "./room_state.ts";
import type { Signal } from "./signals.ts";

/** Who acts, and from which room. */
export interface Actor {
  nickname: string;
  room: string;
}

/** A moderator's answer: `mod_ok`, or an `error` frame's fields. */
export type ActionReply =
  | { type: "mod_ok"; action: string; [field: string]: unknown }
  | { type: "error"; code: string; message: string };

function refused(code: string, message: string): ActionReply {
  return { type: "error", code, message };
}

/** Runs one action; a refusal (bad target, nothing to undo) is a reply, a KV failure throws. */
export async function runAction(
  mod: Moderation,
  actor: Actor,
  request: ModRequest,
): Promise<ActionReply> {
  const now = mod.now();
  const reason = request.reason ?? "";
  const record = (entry: Omit<AuditInput, "by">) =>
    mod.audit.record({ by: actor.nickname, ...entry }, now);
  const effect = async (signal: Signal) => {
    mod.apply(signal);
    await mod.signals.publish(signal);
  };
  const { action } = request;

  if (
    action === "slow" || action === "lock" || action === "unlock" ||
    action === "topic"
  ) {
    const change: Partial<RoomRules> = action === "slow"
      ? { slowSeconds: request.seconds! }
      : action === "topic"
      ? { topic: request.text! }
      : { locked: action === "lock" };
    const rules = await mod.state.setRules(actor.room, change);
    await effect({ kind: "rules", room: actor.room, rules });
    await record({
      action,
      room: actor.room,
      ...(reason ? { reason } : {}),
      ...(action === "slow" ? { seconds: request.seconds } : {}),
      ...(action === "topic" ? { text: request.text } : {}),
    });
    return { type: "mod_ok", action, room: actor.room, ...rules };
  }

  const checked = validateNickname(request.nickname);
  if (!checked.ok) return refused("bad_request", checked.message);
  const target = checked.nickname;
  const key = nicknameKey(target);
  if (mod.isModeratorName(target)) {
    return refused(
      "bad_target",
      `Cannot ${action} "${target}": moderators are not moderated`,
    );
  }
  const ms = request.duration ? DURATIONS[request.duration] : undefined;
  const until = ms === undefined ? undefined : ms === null ? null : now + ms;
  const entry = {
    action,
    target,
    room: actor.room,
    ...(reason ? { reason } : {}),
    ...(request.duration ? { duration: request.duration, until } : {}),
  };

  switch (action) {
    case "kick":
      await effect({ kind: "kick", room: actor.room, key, reason });
      break;
    case "ban": {
      const here = mod.holders(key);
      const holder = await mod.nicknames.holder(target);
      if (holder) here.sids.push(holder);
      const byAddress = request.address === true;
      await mod.bans.ban({
        nickname: target,
        key,
        sids: [...new Set(here.sids)],
        ips: byAddress ? here.ips : [],
        until: until!,
        ...(reason ? { reason } : {}),
        by: actor.nickname,
        at: now,
      }, now);
      await effect({ kind: "ban", key, reason, byAddress });
      // A name held for a session with no socket now is freed too.
      if (holder) await mod.nicknames.release(target, holder);
      break;
    }
    case "unban":
      if (!await mod.bans.unban(key)) {
        return refused("not_found", `Nobody named "${target}" is banned`);
      }
      break;
    case "mute": {
      const mute = { nickname: target, until: until! };
      await mod.state.setMute(key, mute, now);
      await effect({ kind: "mute", key, mute });
      break;
    }
    case "unmute":
      if (mod.state.mutedUntil(key, now) === undefined) {
        return refused("not_found", `Nobody named "${target}" is muted`);
      }
      await mod.state.setMute(key, undefined, now);
      await effect({ kind: "mute", key, mute: null });
      break;
  }
  await record(entry);
  return {
    type: "mod_ok",
    action,
    nickname: target,
    ...(until !== undefined ? { until } : {}),
  };
}
