/**
 * Keeps the listener alive through descriptor exhaustion. Deno never times
 * out a connection that sends nothing, so idle sockets can use up every file
 * descriptor; Deno then treats EMFILE on accept as fatal and rejects the
 * server's `finished`. Established sockets are not affected, so the policy is:
 * log once, wait with back-off, listen again on the same port.
 *
 * @module
 */
import { defaultLog, errorText, type Logger } from "./log.ts";

/** `EMFILE` (per process) and `ENFILE` (system-wide), as Deno words them. */
const EXHAUSTED = /\b(?:Too many open files|os error 2[34])\b/;

/** Whether `error` says the process (or system) ran out of file descriptors. */
export function isDescriptorExhaustion(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return EXHAUSTED.test(error.message);
}

/** Options for {@linkcode serveAndRelisten}. */
export interface RelistenOptions {
  /** Whether the service is stopping; then no new listener is started. */
  stopping?: () => boolean;
  log?: Logger;
  /** The first wait before listening again. */
  minDelayMs?: number;
  /** The longest wait between attempts. */
  maxDelayMs?: number;
  /** A listener that lasted this long ends an episode: the next failure is logged again. */
  calmMs?: number;
}

/** The wait before attempt `attempt` (0 first): doubling from `min`, capped at `max`. */
export function backoffDelay(
  attempt: number,
  options: { minMs: number; maxMs: number },
): number {
  return Math.min(options.maxMs, options.minMs * 2 ** Math.min(attempt, 30));
}

/**
 * Serves with `listen()` until a listener finishes normally; each time one
 * fails for lack of descriptors, listens again after a back-off. Any other
 * failure is rethrown.
 */
export async function serveAndRelisten(
  listen: () => Deno.HttpServer<Deno.NetAddr>,
  options: RelistenOptions = {},
): Promise<void> {
  const log = options.log ?? defaultLog;
  const stopping = options.stopping ?? (() => false);
  const limits = {
    minMs: options.minDelayMs ?? 100,
    maxMs: options.maxDelayMs ?? 2000,
  };
  const calmMs = options.calmMs ?? 30_000;
  let attempt = 0;
  for (;;) {
    const started = Date.now();
    try {
      await listen().finished;
      return;
    } catch (err) {
      if (!isDescriptorExhaustion(err)) throw err;
      if (stopping()) return;
      if (Date.now() - started >= calmMs) attempt = 0;
      // Once per episode: while descriptors stay exhausted every retry fails.
      if (attempt === 0) {
        log(
          "Out of file descriptors: not accepting connections until some close; open sockets stay up",
          { error: errorText(err) },
          { level: "error" },
        );
      }
      const delay = backoffDelay(attempt, limits);
      attempt++;
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (stopping()) return;
    }
  }
}
