/**
 * Opening Deno KV: a file (its folder made), `:memory:`, or the platform's
 * default, with writes retried while another process holds the file's lock.
 *
 * @module
 */

/** Opens the KV database at `path` (creating its folder), or the default one. */
export async function openKv(path: string | undefined): Promise<Deno.Kv> {
  try {
    if (path === undefined) return await Deno.openKv();
    if (path !== ":memory:") {
      const slash = path.lastIndexOf("/");
      if (slash > 0) {
        await Deno.mkdir(path.slice(0, slash), { recursive: true });
      }
    }
    return retryWhenLocked(await Deno.openKv(path));
  } catch (err) {
    throw new Error(
      `Cannot open KV_PATH "${path ?? "default"}": ${
        err instanceof Error ? err.message : err
      }`,
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
