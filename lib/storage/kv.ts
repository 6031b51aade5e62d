/**
 * Opening Deno KV: a file (its folder made), `:memory:`, or the platform's
 * default, with writes retried while another process holds the file's lock.
 *
 * @module
 */
import { redactUrl } from "../app/redact.ts";

/** Raised when Deno Deploy has no KV database assigned to the app. */
export class NoHostedKvError extends Error {
  constructor() {
    super(
      "No Deno KV database is assigned to this app on Deno Deploy: each instance would keep a temporary store of its own; provision a Deno KV database and assign it to the app (Databases in the Deno Deploy console, or deno deploy database), then redeploy",
    );
    this.name = "NoHostedKvError";
  }
}

/**
 * Opens the default KV, refusing the runtime's per-instance fallback:
 * under "error" the runtime itself rejects any default that is not the
 * hosted (remote) database, the same check Deploy makes with "warn".
 */
async function openHostedKv(): Promise<Deno.Kv> {
  const name = "DENO_KV_REQUIRES_DISTRIBUTED_DATABASE";
  const before = Deno.env.get(name);
  Deno.env.set(name, "error");
  try {
    return await Deno.openKv();
  } catch (err) {
    if (
      err instanceof Error && /no KV database is attached/i.test(err.message)
    ) {
      throw new NoHostedKvError();
    }
    throw err;
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
}

/** Opens the KV database at `path` (creating its folder), or the default one (the hosted one if `requireHosted`). */
export async function openKv(
  path: string | undefined,
  options: { requireHosted?: boolean } = {},
): Promise<Deno.Kv> {
  try {
    if (path === undefined) {
      return options.requireHosted ? await openHostedKv() : await Deno.openKv();
    }
    if (path !== ":memory:" && !/^https?:\/\//.test(path)) {
      const slash = path.lastIndexOf("/");
      if (slash > 0) {
        await Deno.mkdir(path.slice(0, slash), { recursive: true });
      }
    }
    // Two `deno serve` workers opening a new file at once race to create
    // its tables, and the loser is told the database is locked
    return retryWhenLocked(await whileLocked(() => Deno.openKv(path)));
  } catch (err) {
    if (err instanceof NoHostedKvError) throw err;
    const shown = path === undefined ? "default" : redactUrl(path);
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `Cannot open KV_PATH "${shown}": ${why}; set KV_PATH to a file in a folder this process may write (deno task start may write only under ./data)`,
    );
  }
}

// SQLite refuses a write with "database is locked" while another process
// (or `deno serve` worker) holds the file's write lock; such a write did not
// happen, so committing it again is safe.
const LOCK_RETRIES = 40;

function isLocked(err: unknown): boolean {
  return err instanceof Error && /database is (locked|busy)/i.test(err.message);
}

async function whileLocked<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= LOCK_RETRIES || !isLocked(err)) throw err;
      await new Promise((r) =>
        setTimeout(r, Math.min(2 ** attempt, 50) + Math.random() * 5)
      );
    }
  }
}

/** Makes every write through `kv` retry while another process holds the lock. */
function retryWhenLocked(kv: Deno.Kv): Deno.Kv {
  const atomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = atomic();
    const commit = op.commit.bind(op);
    op.commit = () => whileLocked(commit);
    return op;
  };
  const set = kv.set.bind(kv);
  kv.set = (key, value, options) => whileLocked(() => set(key, value, options));
  const remove = kv.delete.bind(kv);
  kv.delete = (key) => whileLocked(() => remove(key));
  return kv;
}
