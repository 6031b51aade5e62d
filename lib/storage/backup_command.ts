/**
 * `deno task kv-export <kv>` writes a chat's history to stdout as JSON lines;
 * `deno task kv-import <kv>` merges such lines from stdin into a KV store.
 * `<kv>` is a KV file path or a KV Connect URL (`https://...`, with
 * DENO_KV_ACCESS_TOKEN set). A program of its own, so the server's module
 * graph and permissions stay as they are.
 *
 * @module
 */
import { loadConfig } from "../app/config.ts";
import { exportKv, importKv } from "./backup.ts";
import { openKv } from "./kv.ts";

const USAGE = "Usage: deno task kv-export <kv-path-or-url> > backup.jsonl\n" +
  "       deno task kv-import <kv-path-or-url> < backup.jsonl";

/** Opens a KV file, `:memory:` or a KV Connect URL; refuses a file that is not there when reading. */
export async function openStore(
  where: string,
  options: { mustExist: boolean },
): Promise<Deno.Kv> {
  if (/^https?:\/\//.test(where)) {
    try {
      return await Deno.openKv(where);
    } catch (err) {
      // Deno's message already names a missing DENO_KV_ACCESS_TOKEN.
      throw new Error(
        `Cannot open the KV at "${where}": ${
          err instanceof Error ? err.message : err
        }`,
      );
    }
  }
  if (options.mustExist && where !== ":memory:") {
    try {
      await Deno.stat(where);
    } catch {
      throw new Error(`Cannot export "${where}": no such KV file`);
    }
  }
  return await openKv(where);
}

/** Splits a byte stream into lines without holding more than one line. */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, newline);
      rest = rest.slice(newline + 1);
    }
  }
  rest += decoder.decode();
  if (rest !== "") yield rest;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // Not granted: the default applies.
  }
}

/** How long imported messages and revocations live: the target's settings. */
function importTtls(): { messageTtlMs: number; revocationTtlMs: number } {
  const given: Record<string, string> = {};
  for (const name of ["HISTORY_TTL_DAYS", "SESSION_MAX_AGE_SECONDS"]) {
    const value = env(name);
    if (value !== undefined) given[name] = value;
  }
  const config = loadConfig(given);
  return {
    messageTtlMs: config.history.ttlDays * 86_400_000,
    revocationTtlMs: config.session.maxAgeSeconds * 1000,
  };
}

async function run(args: string[]): Promise<string> {
  const [mode, where] = args;
  if ((mode !== "export" && mode !== "import") || !where || args.length > 2) {
    throw new Error(USAGE);
  }
  if (mode === "export") {
    using kv = await openStore(where, { mustExist: true });
    const out = Deno.stdout.writable.getWriter();
    const encoder = new TextEncoder();
    const summary = await exportKv(
      kv,
      (line) => out.write(encoder.encode(`${line}\n`)),
    );
    await out.close();
    const m = summary.moderation;
    return `Exported ${summary.rooms} rooms, ${summary.messages} messages and ${summary.revoked} ended sessions from "${where}"\n` +
      `Moderation: ${m.bans} bans, ${m.mutes} mutes, ${m.rooms} rooms' rules, ${m.audit} audit entries`;
  }
  const ttls = importTtls();
  using kv = await openStore(where, { mustExist: false });
  const summary = await importKv(kv, readLines(Deno.stdin.readable), ttls);
  const lines = [
    `Imported into "${where}": ${summary.rooms} rooms, ${summary.written} messages written, ${summary.skipped} already there or expired, ${summary.revoked} ended sessions`,
  ];
  const m = summary.moderation;
  if (m) {
    lines.push(
      `Moderation: ${m.bans} bans, ${m.mutes} mutes, ${m.rooms} rooms' rules, ${m.audit} audit entries`,
    );
  }
  for (const conflict of summary.conflicts) {
    lines.push(`Left room ${conflict}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  try {
    console.error(await run(Deno.args));
  } catch (err) {
    // ImportError, ConfigError and failures to open a store all say what to fix.
    console.error(err instanceof Error ? err.message : String(err));
    Deno.exit(1);
  }
}
