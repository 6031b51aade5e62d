/**
 * Who reacted to a folded message: a reaction belongs to the session that
 * made it (its owner hash, as messages have), kept beside the names the
 * page sees under symbol keys, which no JSON frame carries.
 *
 * @module
 */
import { MAX_REACTIONS_PER_MESSAGE } from "../../static/shared/protocol.js";
import type { ChatMessage, SequencedEvent } from "../chat/protocol.ts";

/*
 * The owner hash behind a reaction event, and behind each name of a folded
 * message's reactions (aligned with them). Symbol keys, so no frame, page or
 * bus message ever carries them: JSON skips them.
 */
const OWNER = Symbol("owner");
const REACTORS = Symbol("reactors");

type Owned = { [OWNER]?: string };
type WithReactors = { [REACTORS]?: Record<string, (string | undefined)[]> };

/** Marks whose session put on or took off a reaction (never sent). */
export function setReactionOwner(event: SequencedEvent, owner: string): void {
  (event as Owned)[OWNER] = owner;
}

/** The owner hash of a reaction event, when known. */
export function reactionOwner(event: SequencedEvent): string | undefined {
  return (event as Owned)[OWNER];
}

/** A deep copy of a folded message, with the owners of its reactions. */
export function cloneMessage(message: ChatMessage): ChatMessage {
  const copy = structuredClone(message);
  const reactors = (message as WithReactors)[REACTORS];
  if (reactors) (copy as WithReactors)[REACTORS] = structuredClone(reactors);
  return copy;
}

/**
 * Where the reaction of `who` on `emoji` is in `message`'s list, or -1. A
 * reaction belongs to the session that made it: a name taken over after
 * its holder left cannot toggle the holder's off. Records from before
 * owners were stored match by name.
 */
function reactorIndex(
  message: ChatMessage,
  emoji: string,
  who: { nickname: string; owner?: string },
): number {
  const names = message.reactions?.[emoji];
  if (!names) return -1;
  const owners = (message as WithReactors)[REACTORS]?.[emoji];
  return names.findIndex((name, i) => {
    const owner = owners?.[i];
    return owner !== undefined && who.owner !== undefined
      ? owner === who.owner
      : name === who.nickname;
  });
}

/** Whether `who` (a session's owner hash, else a nickname) has put `emoji` on `message`. */
export function hasReacted(
  message: ChatMessage,
  emoji: string,
  who: { nickname: string; owner?: string },
): boolean {
  return reactorIndex(message, emoji, who) >= 0;
}

/** Whether `emoji` would be one distinct reaction too many on `message`. */
export function reactionsFull(message: ChatMessage, emoji: string): boolean {
  const reactions = message.reactions ?? {};
  return !(emoji in reactions) &&
    Object.keys(reactions).length >= MAX_REACTIONS_PER_MESSAGE;
}

/** Puts on or takes off one reaction of a folded message, by its owner. */
export function toggleReaction(
  target: ChatMessage & WithReactors,
  event: SequencedEvent & { type: "reaction" },
): void {
  const { emoji, nickname } = event;
  const owner = reactionOwner(event);
  const at = reactorIndex(target, emoji, { nickname, owner });
  if (event.on === at >= 0) return;
  if (event.on) {
    if (reactionsFull(target, emoji)) return;
    const names = (target.reactions ??= {})[emoji] ??= [];
    const reactors = target[REACTORS] ??= {};
    // Kept aligned with the names, one owner (or none) for each.
    const owners = reactors[emoji] ??= new Array(names.length).fill(undefined);
    names.push(nickname);
    owners.push(owner);
    return;
  }
  target.reactions![emoji].splice(at, 1);
  target[REACTORS]?.[emoji]?.splice(at, 1);
  if (target.reactions![emoji].length === 0) {
    delete target.reactions![emoji];
    delete target[REACTORS]?.[emoji];
  }
  if (Object.keys(target.reactions!).length === 0) {
    delete target.reactions;
    delete target[REACTORS];
  }
}

/** Forgets the owners of a message's reactions (it was deleted). */
export function dropReactors(message: ChatMessage): void {
  delete (message as WithReactors)[REACTORS];
}
