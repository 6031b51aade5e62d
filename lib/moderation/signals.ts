/**
 * Moderation signals between instances: a kick, a ban, a mute or a room's
 * new rules must reach every instance whichever bus the chat runs, so they
 * go through KV, which every instance of one chat shares. Each signal gets
 * the next number under a watched head key; an instance reads what it has
 * not seen when the head moves, and every few seconds in case a watch
 * notice is missed (a local KV file notifies only its own process).
 *
 * @module
 */
import { errorText, type Logger } from "../app/log.ts";
import { KEYS } from "../storage/keys.ts";
import type { RoomRules } from "./room_state.ts";
import type { Mute } from "./room_state.ts";

/** What one instance tells the others. */
export type Signal =
  | { kind: "kick"; room: string; key: string; reason: string }
  | { kind: "ban"; key: string; reason: string; byAddress: boolean }
  | { kind: "mute"; key: string; mute: Mute | null }
  | { kind: "rules"; room: string; rules: RoomRules };

interface Stored {
  origin: string;
  signal: Signal;
}

/** How long a signal is kept for instances that read late. */
const SIGNAL_TTL_MS = 5 * 60_000;
/** How often the head is read besides the watch. */
export const SIGNAL_POLL_MS = 3000;
const MAX_COMMIT_TRIES = 20;

/** Publishes signals and delivers the other instances' ones. */
export class Signals {
  #kv: Deno.Kv;
  #origin: string;
  #log: Logger;
  #handler: (signal: Signal) => void = () => {};
  #seen = 0;
  #reader: ReadableStreamDefaultReader | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #reading: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(kv: Deno.Kv, options: { origin: string; log: Logger }) {
    this.#kv = kv;
    this.#origin = options.origin;
    this.#log = options.log;
  }

  /** Starts following from the current head: older signals are already in KV's state. */
  async start(handler: (signal: Signal) => void): Promise<void> {
    this.#handler = handler;
    this.#seen = (await this.#kv.get<number>(KEYS.moderationHead)).value ?? 0;
    const reader = this.#kv.watch([KEYS.moderationHead]).getReader();
    this.#reader = reader;
    (async () => {
      try {
        for (;;) {
          const { done } = await reader.read();
          if (done || this.#closed) return;
          this.#catchUp();
        }
      } catch (err) {
        if (!this.#closed) {
          this.#log("Watching moderation signals failed: polling only", {
            error: errorText(err),
          });
        }
      }
    })();
    this.#timer = setInterval(() => this.#catchUp(), SIGNAL_POLL_MS);
    Deno.unrefTimer(this.#timer);
  }

  /** Sends `signal` to every other instance. */
  async publish(signal: Signal): Promise<void> {
    const value: Stored = { origin: this.#origin, signal };
    for (let i = 0; i < MAX_COMMIT_TRIES; i++) {
      const head = await this.#kv.get<number>(KEYS.moderationHead);
      const n = (head.value ?? 0) + 1;
      const result = await this.#kv.atomic()
        .check(head)
        .set(KEYS.moderationHead, n)
        .set(KEYS.moderationSignal(n), value, { expireIn: SIGNAL_TTL_MS })
        .commit();
      if (result.ok) return;
    }
    throw new Error("Publishing a moderation signal failed: KV stayed busy");
  }

  /** Stops watching and polling. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#reader?.cancel().catch(() => {});
  }

  #catchUp(): void {
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = this.#read().catch((err) => {
      this.#log("Reading moderation signals failed", { error: errorText(err) });
    }).finally(() => {
      this.#reading = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.#catchUp();
      }
    });
  }

  async #read(): Promise<void> {
    if (this.#closed) return;
    const head = (await this.#kv.get<number>(KEYS.moderationHead)).value ?? 0;
    if (head <= this.#seen) return;
    const iter = this.#kv.list<Stored>({
      start: KEYS.moderationSignal(this.#seen + 1),
      end: KEYS.moderationSignal(head + 1),
    });
    this.#seen = head;
    for await (const { value } of iter) {
      if (this.#closed) return;
      if (value.origin !== this.#origin) this.#handler(value.signal);
    }
  }
}
