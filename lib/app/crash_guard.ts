/**
 * Decides which uncaught errors the process may survive, and survives only
 * those. Deno reassembles a fragmented WebSocket message with no cap on its
 * size; past V8's string limit (~512 MiB) turning it into a string throws
 * inside Deno's own receive loop, where no app code can catch it, and the
 * unhandled rejection would end the process. Everything else still does.
 *
 * @module
 */
import { defaultLog, type Logger } from "./log.ts";

/** The message V8 gives, through Deno, for a string over its maximum length. */
const STRING_TOO_LONG =
  "failed to allocate string; buffer exceeds maximum length";

/** Where Deno's WebSocket implementation lives; the throw must come from there. */
const WEBSOCKET_SOURCE = "ext:deno_websocket/";

/**
 * Why `error` may be survived, as a log message, or undefined when it is a
 * real bug that must still end the process.
 */
export function survivable(error: unknown): string | undefined {
  if (!(error instanceof TypeError)) return undefined;
  if (error.message !== STRING_TOO_LONG) return undefined;
  // The same message from app code would be a bug of ours: not survived.
  const stack = error.stack ?? "";
  const frames = stack.split("\n").filter((line) => /^\s+at /.test(line));
  if (!frames[0]?.includes(WEBSOCKET_SOURCE)) return undefined;
  return "WebSocket message over the runtime's string limit: its socket stops reading and is closed by the idle timeout; the server keeps running";
}

/** Options for {@linkcode installCrashGuard}. */
export interface CrashGuardOptions {
  log?: Logger;
}

/**
 * Listens for uncaught errors and unhandled rejections on this process (or
 * worker) and prevents the exit for the survivable ones only, logging each
 * once; returns a function that removes the listeners.
 */
export function installCrashGuard(options: CrashGuardOptions = {}): () => void {
  const log = options.log ?? defaultLog;
  const guard = (event: Event, error: unknown) => {
    const why = survivable(error);
    if (!why) return;
    event.preventDefault();
    log(why, { error: (error as Error).message }, { level: "warning" });
  };
  const onRejection = (event: PromiseRejectionEvent) =>
    guard(event, event.reason);
  const onError = (event: ErrorEvent) => guard(event, event.error);
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}
