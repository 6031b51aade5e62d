/**
 * Moderation on one instance: who is a moderator, what a member may post,
 * the room state a page shows, and the effects of an action on this
 * instance's sockets, whether the action was taken here or arrived as a
 * signal from another instance. The actions themselves are
 * moderator_actions.ts.
 *
 * @module
 */
import type { ModeratorAccount } from "../app/config.ts";
import { errorText, type Logger } from "../app/log.ts";
import { nicknameKey } from "../auth/nicknames.ts";
import type { Connection } from "../chat/connection.ts";
import { strike } from "../chat/intake.ts";
import { CLOSE, utf8Length } from "../chat/protocol.ts";
import type { ChatSession } from "../chat/sessions.ts";
import type { NicknameRegistry } from "../storage/nickname_registry.ts";
import { KEYS } from "../storage/keys.ts";
import { AuditLog } from "./audit_log.ts";
import { type BanRecord, BanStore } from "./bans.ts";
import type { HubPort, ModerationGate, ModeratorDelete } from "./gate.ts";
import { confirmDelete, requestDelete } from "./moderator_delete.ts";
import { LoginGate } from "./login_gate.ts";
import { modError, modFrameAction, parseModFrame } from "./mod_frames.ts";
import { runAction } from "./moderator_actions.ts";
import { ModerationState } from "./room_state.ts";
import { type Signal, Signals } from "./signals.ts";

/** What {@linkcode Moderation} needs. */
export interface ModerationOptions {
  kv: Deno.Kv;
  moderators: ModeratorAccount[];
  instance: string;
  /** A moderator's role lasts as long as the session can. */
  sessionMaxAgeSeconds: number;
  nicknames: NicknameRegistry;
  log: Logger;
  now?: () => number;
}

/** Who is connecting, checked before an upgrade. */
export interface UpgradeInfo {
  sid: string;
  nickname: string;
  ip: string;
}

const MAX_CLOSE_REASON_BYTES = 123;
// Slow-mode times are dropped past this many, oldest first.
const MAX_SLOW_ENTRIES = 50_000;

/** A close reason within the 123 bytes a close frame allows. */
export function closeReason(text: string): string {
  let out = text;
  while (utf8Length(out) > MAX_CLOSE_REASON_BYTES) {
    out = [...out].slice(0, -2).join("") + "…";
  }
  return out;
}

/** One instance's moderation. */
export class Moderation implements ModerationGate {
  readonly bans: BanStore;
  readonly audit: AuditLog;
  readonly state: ModerationState;
  readonly login: LoginGate;
  readonly signals: Signals;
  readonly nicknames: NicknameRegistry;
  readonly now: () => number;
  #kv: Deno.Kv;
  #log: Logger;
  #maxAgeMs: number;
  #names: string[];
  #hub: HubPort = {
    connections: () => [],
    endSession: () => Promise.resolve(),
  };
  /** Moderator sessions this instance has seen upgrade, by sid. */
  #moderators = new Map<string, string>();
  #keys = new WeakMap<ChatSession, string>();
  /** When each session last posted in each room, for slow mode. */
  #lastPost = new Map<string, number>();

  constructor(options: ModerationOptions) {
    this.#kv = options.kv;
    this.#log = options.log;
    this.now = options.now ?? Date.now;
    this.#maxAgeMs = options.sessionMaxAgeSeconds * 1000;
    this.#names = options.moderators.map((m) => m.nickname).sort();
    this.nicknames = options.nicknames;
    this.bans = new BanStore(options.kv);
    this.audit = new AuditLog(options.kv);
    this.state = new ModerationState(options.kv);
    this.login = new LoginGate({
      moderators: options.moderators,
      bans: this.bans,
      now: this.now,
    });
    this.signals = new Signals(options.kv, {
      origin: options.instance,
      log: options.log,
    });
  }

  /** Loads mutes and room rules and starts following other instances. */
  async start(): Promise<void> {
    await this.state.load();
    await this.signals.start((signal) => this.apply(signal));
  }

  /** Stops following other instances. */
  close(): Promise<void> {
    return this.signals.close();
  }

  /** Records that `sid` logged in with a moderator's password. */
  async grantRole(sid: string, nickname: string): Promise<void> {
    await this.#kv.set(KEYS.moderatorSession(sid), { nickname }, {
      expireIn: this.#maxAgeMs,
    });
  }

  /** Whether session `sid` named `nickname` is a moderator's (read from KV). */
  async isModeratorSession(sid: string, nickname: string): Promise<boolean> {
    const role = await this.#kv.get<{ nickname: string }>(
      KEYS.moderatorSession(sid),
    );
    // A name removed from MODERATORS loses its role at once.
    return role.value?.nickname === nickname &&
      this.login.account(nickname)?.nickname === nickname;
  }

  /**
   * The ban that refuses this upgrade, if any, or "unavailable" when KV did
   * not answer (refused too: a ban cannot be ruled out); also learns whether
   * the session is a moderator's.
   */
  async checkUpgrade(
    info: UpgradeInfo,
  ): Promise<BanRecord | "unavailable" | undefined> {
    let ban: BanRecord | undefined;
    let moderator: boolean;
    try {
      [ban, moderator] = await Promise.all([
        this.bans.find(
          { sid: info.sid, key: nicknameKey(info.nickname), ip: info.ip },
          this.now(),
        ),
        this.isModeratorSession(info.sid, info.nickname),
      ]);
    } catch (err) {
      this.#log("Checking bans failed: the upgrade is refused", {
        error: errorText(err),
      }, { level: "warning" });
      return "unavailable";
    }
    if (moderator) this.#moderators.set(info.sid, info.nickname);
    else this.#moderators.delete(info.sid);
    return moderator ? undefined : ban;
  }

  /** Whether a connected session is a moderator's. */
  isModerator(session: { sid: string; nickname: string }): boolean {
    return this.#moderators.get(session.sid) === session.nickname;
  }

  /** Whether `nickname` is, or looks like, a moderator's. */
  isModeratorName(nickname: string): boolean {
    return this.login.account(nickname) !== undefined;
  }

  connect(hub: HubPort): void {
    this.#hub = hub;
  }

  intercept(member: Connection, data: string): boolean {
    const asked = modFrameAction(data);
    if (asked === undefined) return false;
    const now = this.now();
    if (!this.isModerator(member.session)) {
      if (!strike(member, now)) {
        member.send(modError("forbidden", "Only moderators may moderate", {
          action: asked,
        }));
      }
      return true;
    }
    const parsed = parseModFrame(data);
    if (!parsed.ok) {
      member.send(modError("bad_request", parsed.message, { action: asked }));
      return true;
    }
    if (parsed.request.action === "delete") {
      requestDelete(member, parsed.request);
      return true;
    }
    const actor = { nickname: member.session.nickname, room: member.room.name };
    const { action, nickname: target } = parsed.request;
    runAction(this, actor, parsed.request).then(
      (reply) => {
        if (reply.type === "mod_ok") {
          this.#log(
            "Moderation action",
            { by: actor.nickname, action, target },
            {
              level: "info",
            },
          );
        }
        // A refusal names what it refuses, as mod_ok names what was done
        const named = target !== undefined ? { nickname: target } : {};
        member.send(JSON.stringify(
          reply.type === "error" ? { ...reply, action, ...named } : reply,
        ));
      },
      (err) => {
        this.#log("A moderation action failed", {
          action,
          error: errorText(err),
        });
        member.send(
          modError("internal", "Moderation failed: please try again", {
            action,
            ...(target !== undefined ? { nickname: target } : {}),
          }),
        );
      },
    );
    return true;
  }

  deleted(member: Connection, removal: ModeratorDelete & { id: number }): void {
    confirmDelete(member, removal, {
      audit: this.audit,
      log: this.#log,
      now: this.now(),
    });
  }

  refusal(
    member: Connection,
    room: string,
    options: { now: number; typing?: boolean },
  ): string | undefined {
    const { session } = member;
    if (this.isModerator(session)) return undefined;
    const { now, typing } = options;
    const until = this.state.mutedUntil(this.#keyOf(session), now);
    if (until !== undefined) {
      return typing ? "" : modError(
        "muted",
        until === null
          ? "You are muted"
          : `You are muted until ${new Date(until).toISOString()}`,
        { until },
      );
    }
    const rules = this.state.rules(room);
    if (rules.locked) {
      return typing
        ? ""
        : modError("room_locked", "This room is locked: only moderators post");
    }
    if (rules.slowSeconds === 0 || typing) return undefined;
    const slot = `${room}\n${session.sid}`;
    const last = this.#lastPost.get(slot);
    const waitMs = last === undefined
      ? 0
      : last + rules.slowSeconds * 1000 - now;
    if (waitMs > 0) {
      const retryAfter = Math.ceil(waitMs / 100) / 10;
      return modError(
        "slow_mode",
        `Slow mode: wait ${retryAfter} s before sending again`,
        { retryAfter },
      );
    }
    this.#lastPost.delete(slot);
    this.#lastPost.set(slot, now);
    if (this.#lastPost.size > MAX_SLOW_ENTRIES) {
      this.#lastPost.delete(this.#lastPost.keys().next().value!);
    }
    return undefined;
  }

  welcomed(member: Connection): void {
    member.send(this.roomFrame(member));
  }

  /** A member's view of its room: rules, moderators, and its own role and mute. */
  roomFrame(member: Connection): string {
    const room = member.room.name;
    const rules = this.state.rules(room);
    const mutedUntil = this.state.mutedUntil(
      this.#keyOf(member.session),
      this.now(),
    );
    return JSON.stringify({
      type: "room",
      room,
      topic: rules.topic,
      slowSeconds: rules.slowSeconds,
      locked: rules.locked,
      moderators: this.#names,
      moderator: this.isModerator(member.session),
      ...(mutedUntil !== undefined ? { mutedUntil } : {}),
    });
  }

  /** Sessions and addresses here whose nickname is `key`. */
  holders(key: string): { sids: string[]; ips: string[] } {
    const sids = new Set<string>();
    const ips = new Set<string>();
    for (const c of this.#targets(key)) {
      sids.add(c.session.sid);
      ips.add(c.ip);
    }
    return { sids: [...sids], ips: [...ips] };
  }

  /** Carries out a signal's effect on this instance (from here or from another instance). */
  apply(signal: Signal): void {
    switch (signal.kind) {
      case "kick":
        for (const c of this.#targets(signal.key)) {
          if (c.room.name === signal.room) {
            c.close(CLOSE.KICKED, closeReason(`Kicked: ${signal.reason}`));
          }
        }
        return;
      case "ban":
        this.#banHere(signal.key, signal.reason, signal.byAddress);
        return;
      case "mute":
        this.state.applyMute(signal.key, signal.mute ?? undefined);
        for (const c of this.#targets(signal.key)) {
          if (c.state === "joined") c.send(this.roomFrame(c));
        }
        return;
      case "rules":
        this.state.applyRules(signal.room, signal.rules);
        for (const c of this.#hub.connections()) {
          if (c.state === "joined" && c.room.name === signal.room) {
            c.send(this.roomFrame(c));
          }
        }
        return;
    }
  }

  #banHere(key: string, reason: string, byAddress: boolean): void {
    const found = this.holders(key);
    const close = {
      code: CLOSE.BANNED,
      reason: closeReason(`Banned: ${reason}`),
    };
    const sessions = new Map<string, string>();
    for (const c of this.#targets(key)) {
      sessions.set(c.session.sid, c.session.nickname);
    }
    // Ended like a logout, so the name is free again once the ban is lifted.
    for (const [sid, nickname] of sessions) {
      this.#hub.endSession(sid, nickname, close).catch((err) =>
        this.#log("Ending a banned session failed", { error: errorText(err) })
      );
    }
    if (found.sids.length === 0) return;
    // This instance knows sessions and addresses the banning one may not.
    this.bans.extend(key, {
      sids: found.sids,
      ips: byAddress ? found.ips : [],
    }, this.now()).catch((err) =>
      this.#log("Extending a ban failed", { error: errorText(err) })
    );
  }

  *#targets(key: string): Iterable<Connection> {
    for (const c of this.#hub.connections()) {
      if (c.state !== "gone" && this.#keyOf(c.session) === key) yield c;
    }
  }

  #keyOf(session: ChatSession): string {
    let key = this.#keys.get(session);
    if (key === undefined) {
      key = nicknameKey(session.nickname);
      this.#keys.set(session, key);
    }
    return key;
  }
}
