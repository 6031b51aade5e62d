/**
 * When a room's next flush runs. A quiet room flushes on the next microtask,
 * so a lone message leaves at once. A busy room (its last frame carried
 * more than one event, a moment ago) gathers first: it waits a turn of the
 * event loop at a time while events keep coming in, and at least as long
 * as its last fan-out took, so sending frames takes at most about half the
 * time. A send costs about the same whatever the frame carries, so more
 * events per frame is more events per second. The hold is capped well
 * inside the latency budget.
 *
 * @module
 */

/** How a pacer judges a busy room. */
export interface FlushPacerOptions {
  /** The longest a flush is held, in ms. */
  maxHoldMs?: number;
  /** A room whose last multi-event frame left less than this long ago (ms) is busy. */
  busyMs?: number;
  /** The hold lasts at least this × the last fan-out's duration. */
  costRatio?: number;
  /** Clock in ms; performance.now by default. */
  now?: () => number;
}

/** One room's flush timing: a microtask when quiet, a short gathering hold when busy. */
export class FlushPacer {
  #maxHoldMs: number;
  #busyMs: number;
  #ratio: number;
  #now: () => number;
  #lastAt = -Infinity;
  #lastEvents = 0;
  #costMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #run: (() => void) | undefined;

  constructor(options: FlushPacerOptions = {}) {
    this.#maxHoldMs = options.maxHoldMs ?? 20;
    this.#busyMs = options.busyMs ?? 100;
    this.#ratio = options.costRatio ?? 1;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Whether the room is busy: its last frame carried several events, a moment ago. */
  get busy(): boolean {
    return this.#lastEvents > 1 && this.#now() - this.#lastAt < this.#busyMs;
  }

  /** Whether a flush now would come sooner after the last fan-out than that fan-out took. */
  get holding(): boolean {
    return this.busy && this.#remainingMs() > 0;
  }

  #remainingMs(): number {
    const hold = Math.min(this.#maxHoldMs, this.#costMs * this.#ratio);
    return hold - (this.#now() - this.#lastAt);
  }

  /**
   * Runs `run` when the pacer says: on a microtask when quiet; when busy,
   * once `waiting()` (the events queued) stops growing from one turn to
   * the next and the fan-out's cost has passed, or after the cap.
   */
  schedule(run: () => void, waiting: () => number): void {
    if (!this.busy) {
      queueMicrotask(run);
      return;
    }
    const started = this.#now();
    let seen = waiting();
    this.#run = run;
    const tick = () => {
      const now = this.#now();
      const count = waiting();
      const rest = this.#remainingMs();
      if (now - started < this.#maxHoldMs && (count > seen || rest > 0)) {
        seen = count;
        this.#timer = setTimeout(tick, Math.max(0, Math.min(rest, 5)));
        return;
      }
      this.#fire();
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** Times a fan-out of `events` events; the next hold follows from what it cost. */
  timed(events: number, fanOut: () => void): void {
    const started = this.#now();
    try {
      fanOut();
    } finally {
      this.#lastAt = this.#now();
      this.#costMs = this.#lastAt - started;
      this.#lastEvents = events;
    }
  }

  /** Cancels a held flush and runs it on a microtask instead (a joiner waits, or shutdown). */
  hurry(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    queueMicrotask(this.#fire);
  }

  #fire = (): void => {
    this.#timer = undefined;
    const run = this.#run;
    this.#run = undefined;
    run?.();
  };
}
