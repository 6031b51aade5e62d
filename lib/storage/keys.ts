/**
 * The KV key schema, in one place: every module that reads or writes KV
 * (and every tool that copies it) builds its keys here.
 *
 * @module
 */

/** Every key the chat writes to Deno KV. */
export const KEYS = {
  /** A room's head: the id of its newest message. Watched by the KV bus. */
  head: (room: string): Deno.KvKey => ["seq", room],
  /** Every room's head. */
  headPrefix: ["seq"] as Deno.KvKey,
  /** A room's epoch: made with its head, so a reset stream is told apart. */
  epoch: (room: string): Deno.KvKey => ["epoch", room],
  /** A room that exists: made when first opened, expiring with its history. */
  room: (room: string): Deno.KvKey => ["room", room],
  /** Every room that exists. */
  roomPrefix: ["room"] as Deno.KvKey,
  /**
   * The id a session's message was stored under, by its client id: a retry
   * of it (after a crash, or on another instance) is confirmed, not posted.
   */
  cid: (room: string, owner: string, cid: string): Deno.KvKey => [
    "cid",
    room,
    owner,
    cid,
  ],
  /** One stored message. */
  message: (room: string, id: number): Deno.KvKey => ["msg", room, id],
  /** One instance's presence lease for one session in one room. */
  presence: (room: string, instance: string, sid: string): Deno.KvKey => [
    "presence",
    room,
    instance,
    sid,
  ],
  /** Every presence lease in `room`, or in every room without one. */
  presencePrefix: (room?: string): Deno.KvKey =>
    room === undefined ? ["presence"] : ["presence", room],
  /** The lease of a nickname, by its case-folded key. */
  nickname: (key: string): Deno.KvKey => ["nick", key],
  /** A session ended by logout. */
  revoked: (sid: string): Deno.KvKey => ["revoked", sid],
  /** Every session ended by logout. */
  revokedPrefix: ["revoked"] as Deno.KvKey,
  /** A session that logged in with a moderator's password. */
  moderatorSession: (sid: string): Deno.KvKey => ["mod_session", sid],
  /** A ban by nickname skeleton: the record, with the sessions and address it covers. */
  banByNick: (key: string): Deno.KvKey => ["ban", "nick", key],
  /** A ban of one session, pointing at its nickname's record. */
  banBySession: (sid: string): Deno.KvKey => ["ban", "sid", sid],
  /** A ban of one address, pointing at its nickname's record. */
  banByAddress: (ip: string): Deno.KvKey => ["ban", "ip", ip],
  /** Every ban key. */
  banPrefix: ["ban"] as Deno.KvKey,
  /** A mute, by nickname skeleton. */
  mute: (key: string): Deno.KvKey => ["mute", key],
  /** Every mute. */
  mutePrefix: ["mute"] as Deno.KvKey,
  /** A room's moderation settings: slow mode, lock, topic. */
  roomRules: (room: string): Deno.KvKey => ["room_rules", room],
  /** Every room's moderation settings. */
  roomRulesPrefix: ["room_rules"] as Deno.KvKey,
  /** One audit log entry; ids sort by time. */
  audit: (id: string): Deno.KvKey => ["audit", id],
  /** The audit log. */
  auditPrefix: ["audit"] as Deno.KvKey,
  /** The number of the newest moderation signal; watched by every instance. */
  moderationHead: ["mod_signal_head"] as Deno.KvKey,
  /** One moderation signal for the other instances (short-lived). */
  moderationSignal: (n: number): Deno.KvKey => ["mod_signal", n],
} as const;
