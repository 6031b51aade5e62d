/**
 * Why the server could not start, as one line that names the setting and
 * the fix: the failures that are not config errors (the port is taken, the
 * host does not resolve, KV cannot be opened) and would otherwise end in a
 * stack trace.
 *
 * @module
 */
import type { Config } from "./config.ts";
import { NoHostedKvError } from "../storage/kv.ts";

/** Says in one line why listening on or starting with `config` failed, and what to change. */
export function startupFailure(err: unknown, config: Config): string {
  const { port, hostname } = config.server;
  const why = err instanceof Error ? err.message : String(err);
  if (err instanceof Deno.errors.AddrInUse) {
    return `Cannot listen on PORT "${port}": another process is using it on HOST "${hostname}"; stop that process or set PORT to a free port`;
  }
  if (err instanceof Deno.errors.AddrNotAvailable) {
    return `Cannot listen on HOST "${hostname}": this machine has no such address; set HOST to one of its addresses, or 0.0.0.0 for all`;
  }
  if (
    err instanceof Deno.errors.PermissionDenied ||
    err instanceof Deno.errors.NotCapable
  ) {
    if (/net|listen|bind|port/i.test(why)) {
      return `Cannot listen on PORT "${port}": ${why}; set PORT to 1024 or above, or grant the permission`;
    }
  }
  if (
    /lookup address|Name or service not known|nodename nor servname/i.test(why)
  ) {
    return `Cannot listen on HOST "${hostname}": the name does not resolve; set HOST to an address such as 127.0.0.1 or 0.0.0.0`;
  }
  // Already one line naming KV_PATH (lib/storage/kv.ts) or the Deploy database.
  if (err instanceof NoHostedKvError || why.startsWith("Cannot open KV_PATH")) {
    return why.split("\n")[0];
  }
  return `Cannot start: ${why.split("\n")[0]}`;
}
