/**
 * Part of a room's commit step (room.ts, step 4): the flush's edits,
 * deletions, reactions and replies are checked against the messages they
 * change before anything is stored. Only the author's session may edit
 * (within the edit window) or delete; a reaction toggles the sender's own;
 * a reply quotes its original. A refusal is answered on the sender's socket
 * with a stable code and counts as a strike, like any refused frame.
 *
 * @module
 */
import { MAX_REACTIONS_PER_MESSAGE } from "../../static/shared/protocol.js";
import type { NewMessage } from "../storage/history.ts";
import {
  applyEvent,
  cloneMessage,
  hasReacted,
  MessageStates,
  reactionOwner,
  reactionsFull,
  setReactionOwner,
  snippet,
  toRecord,
} from "../storage/message_state.ts";
import type { Connection } from "./connection.ts";
import { strike } from "./intake.ts";
import { afterModeratorDelete, moderatorDelete } from "../moderation/gate.ts";
import {
  type ChatMessage,
  type ErrorCode,
  errorFrame,
  isSequenced,
  type RoomEvent,
  type SequencedEvent,
} from "./protocol.ts";
import type { RoomContext } from "./room_context.ts";
import type { ChatSession } from "./sessions.ts";

interface Refusal {
  code: ErrorCode;
  message: string;
}

/** A session's owner hash: stored with its messages, so the key itself never is. */
const owners = new WeakMap<ChatSession, Promise<string>>();
/** The hashes already made, so a flush of many messages awaits none of them. */
const ownersKnown = new WeakMap<ChatSession, string>();

/** The non-secret hash of a session's key that marks the messages it wrote. */
export function ownerOf(session: ChatSession): string | Promise<string> {
  const known = ownersKnown.get(session);
  if (known !== undefined) return known;
  let hash = owners.get(session);
  if (!hash) {
    hash = crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(`message-owner:${session.sid}`),
    ).then((digest) => {
      const made = btoa(
        String.fromCharCode(...new Uint8Array(digest).slice(0, 16)),
      ).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
      ownersKnown.set(session, made);
      return made;
    });
    owners.set(session, hash);
  }
  return hash;
}

function notFound(id: number): Refusal {
  return {
    code: "not_found",
    message: `Unknown message "${id}": it is not in this room's history`,
  };
}

/** Checks and prepares one room's new sequenced events for its commit. */
export class RoomChanges {
  #room: string;
  #ctx: RoomContext;
  #states = new MessageStates();

  constructor(room: string, ctx: RoomContext) {
    this.#room = room;
    this.#ctx = ctx;
  }

  /**
   * Checks `fresh` (the flush's new sequenced events) in order; refused
   * ones are answered, struck and dropped from `fresh`, `events` and
   * `senders`. Returns the records to store for the rest, in order.
   */
  async admit(
    fresh: SequencedEvent[],
    events: RoomEvent[],
    senders: Map<SequencedEvent, Connection>,
  ): Promise<NewMessage[]> {
    const needsCheck = fresh.some((e) =>
      e.type !== "message" || e.replyTo !== undefined
    );
    if (needsCheck) {
      const { history, settings } = this.#ctx;
      await this.#states.refresh(history, this.#room, settings.historySize);
    }
    // Changes earlier in this flush count for later ones (a double toggle).
    const overlay = new Map<number, ChatMessage>();
    const refused = new Set<SequencedEvent>();
    const records: NewMessage[] = [];
    for (const event of fresh) {
      const sender = senders.get(event);
      const refusal = needsCheck
        ? await this.#check(event, sender, overlay)
        : undefined;
      if (refusal) {
        refused.add(event);
        senders.delete(event);
        if (sender) this.#refuse(sender, event, refusal);
        continue;
      }
      let owner: string | Promise<string> | undefined;
      if (event.type === "message" && sender) owner = ownerOf(sender.session);
      if (typeof owner === "object") owner = await owner;
      records.push(toRecord(event, owner));
    }
    if (refused.size > 0) {
      const keep = (e: RoomEvent) => !(isSequenced(e) && refused.has(e));
      const kept = fresh.filter(keep);
      fresh.splice(0, fresh.length, ...kept);
      const keptEvents = events.filter(keep);
      events.splice(0, events.length, ...keptEvents);
    }
    return records;
  }

  /** After the commit gave `fresh` their ids: moderators' deletes are audited and confirmed. */
  committed(
    fresh: readonly SequencedEvent[],
    senders: ReadonlyMap<SequencedEvent, Connection>,
  ): void {
    for (const event of fresh) {
      const sender = senders.get(event);
      if (event.type === "delete" && event.by === "moderator" && sender) {
        afterModeratorDelete(sender, event);
      }
    }
  }

  /** The message `id` as this flush has left it so far. */
  #state(
    id: number,
    overlay: Map<number, ChatMessage>,
  ): ChatMessage | undefined {
    return overlay.get(id) ?? this.#states.get(id);
  }

  async #check(
    event: SequencedEvent,
    sender: Connection | undefined,
    overlay: Map<number, ChatMessage>,
  ): Promise<Refusal | undefined> {
    if (event.type === "message") {
      if (event.replyTo === undefined) return undefined;
      const original = this.#state(event.replyTo, overlay);
      if (!original || original.deleted) return notFound(event.replyTo);
      event.reply = {
        id: original.id,
        nickname: original.nickname,
        text: snippet(original.text),
      };
      return undefined;
    }
    const target = this.#state(event.target, overlay);
    if (!target || target.deleted) return notFound(event.target);
    if (event.type === "reaction") {
      // By session: whoever takes a freed nickname cannot take off the
      // reactions its previous holder put on.
      if (sender) setReactionOwner(event, await ownerOf(sender.session));
      const { nickname } = event;
      const owner = reactionOwner(event);
      event.on = !hasReacted(target, event.emoji, { nickname, owner });
      if (event.on && reactionsFull(target, event.emoji)) {
        return {
          code: "too_many_reactions",
          message:
            `Too many reactions: a message takes at most ${MAX_REACTIONS_PER_MESSAGE} different emoji`,
        };
      }
    } else {
      const refusal = await this.#checkAuthor(event, target, sender);
      if (refusal) return refusal;
    }
    const changed = cloneMessage(target);
    const map = new Map([[changed.id, changed]]);
    applyEvent(map, event);
    overlay.set(changed.id, changed);
    return undefined;
  }

  async #checkAuthor(
    event: SequencedEvent & { type: "edit" | "delete" },
    target: ChatMessage,
    sender: Connection | undefined,
  ): Promise<Refusal | undefined> {
    if (event.type === "delete" && event.by === "moderator") {
      // Made only from a moderator's `mod` frame; checked again here, as
      // the role may have gone while the frame waited.
      const removal = moderatorDelete(sender, event);
      if (!removal) {
        return { code: "forbidden", message: "Only moderators may moderate" };
      }
      removal.author = target.nickname;
      return undefined;
    }
    const { history, now, settings: { editWindowMs } } = this.#ctx;
    const owner = await history.owner(this.#room, target.id);
    // Checked by session, not by name: a nickname is free to take once
    // its holder leaves.
    if (
      !sender || owner === undefined || owner !== await ownerOf(sender.session)
    ) {
      return {
        code: "forbidden",
        message:
          `Not your message "${target.id}": only its author may ${event.type} it`,
      };
    }
    if (event.type === "edit" && now() - target.ts >= editWindowMs) {
      return {
        code: "edit_window_closed",
        message:
          `Too late to edit message "${target.id}": messages can be edited for ${
            Math.round(editWindowMs / 60000)
          } minutes`,
      };
    }
    return undefined;
  }

  #refuse(sender: Connection, event: SequencedEvent, refusal: Refusal): void {
    if (event.type === "message" && event.cid !== undefined) {
      // Not stored: a retry under the same cid must be taken again.
      sender.session.policy.forget(event.cid);
    }
    if (!strike(sender, this.#ctx.now())) {
      // A moderator's delete came as a `mod` frame: its refusal says so
      const mod = event.type === "delete" && event.by === "moderator";
      sender.send(
        errorFrame(
          refusal.code,
          refusal.message,
          mod ? { action: "delete" } : {},
        ),
      );
    }
  }
}
