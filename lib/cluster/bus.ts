/**
 * The bus carries a room's events between instances (workers, machines,
 * Deno Deploy instances). Each instance fans out from its own room map; only
 * what another instance produced crosses the bus. KV stays the truth for
 * messages: the bus only makes delivery prompt.
 *
 * @module
 */
import type { SequencedEvent } from "../chat/protocol.ts";

/** Presence as it crosses the bus: with the session id, which clients never see. */
export interface BusPresence {
  type: "join" | "leave";
  nickname: string;
  sid: string;
  ts: number;
}

/** Typing as it crosses the bus. */
export interface BusTyping {
  type: "typing";
  nickname: string;
}

/** One event on the bus: messages and the changes to them as stored, presence and typing. */
export type BusEvent = SequencedEvent | BusPresence | BusTyping;

/** What one instance publishes for one room. */
export interface BusEnvelope {
  /** The publishing instance, so it can ignore its own echo. */
  origin: string;
  room: string;
  events: BusEvent[];
}

/** Receives envelopes from other instances. */
export type BusHandler = (envelope: BusEnvelope) => void;

/** A way to reach the other instances. */
export interface Bus {
  /** Sends this instance's events for a room; never throws. */
  publish(envelope: BusEnvelope): void;
  /** Where envelopes from other instances go; set once, by the hub. */
  listen(handler: BusHandler): void;
  /** Whether the bus reaches the other instances now (readiness). */
  isUp(): boolean;
  /** This instance now has people in `room`: listen to it. */
  watch(room: string): void;
  /** This instance has nobody left in `room`. */
  unwatch(room: string): void;
  close(): Promise<void>;
}

/** Holds the handler a bus delivers to until {@linkcode Bus.listen} sets it. */
export class Inbox {
  #handler: BusHandler | undefined;

  /** Sets where envelopes go. */
  listen(handler: BusHandler): void {
    this.#handler = handler;
  }

  /** Delivers an envelope from another instance, if anyone listens yet. */
  deliver(envelope: BusEnvelope): void {
    this.#handler?.(envelope);
  }
}

/** The single-process bus: there is nobody to reach, so every call does nothing. */
export function createMemoryBus(): Bus {
  return {
    publish() {},
    listen() {},
    isUp: () => true,
    watch() {},
    unwatch() {},
    close: () => Promise.resolve(),
  };
}

/**
 * A bus over BroadcastChannel: it reaches the other workers of one
 * `deno serve --parallel` process (and other apps in one isolate, in tests).
 */
export function createBroadcastBus(
  options: { origin: string; channel?: string },
): Bus {
  const inbox = new Inbox();
  const channel = new BroadcastChannel(options.channel ?? "deno-chat");
  channel.onmessage = (event: MessageEvent<BusEnvelope>) => {
    const envelope = event.data;
    if (envelope && envelope.origin !== options.origin) inbox.deliver(envelope);
  };
  return {
    publish(envelope) {
      try {
        channel.postMessage(envelope);
      } catch {
        // A closed channel during shutdown: KV still has every message.
      }
    },
    listen: (handler) => inbox.listen(handler),
    isUp: () => true,
    watch() {},
    unwatch() {},
    close() {
      channel.close();
      return Promise.resolve();
    },
  };
}
