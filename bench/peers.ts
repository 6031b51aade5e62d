/**
 * Finds the Bun binary the bench compares against, without downloading it:
 * `npm install --prefix bench/.peers bun` puts it where this looks.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const CANDIDATES = [
  `${ROOT}bench/.peers/node_modules/.bin/bun`,
  `${ROOT}bench/.peers/node_modules/bun/bin/bun.exe`,
];

/** Bun, when it runs: its path and version. */
export interface BunPeer {
  path: string;
  version: string;
}

async function versionOf(path: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(path, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success
      ? new TextDecoder().decode(out.stdout).trim()
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Bun to run, or why there is none. BENCH_BUN=0 turns it off, a path
 * picks a binary; otherwise bench/.peers is looked in, except in quick
 * runs (CI), which skip Bun unless BENCH_BUN names one.
 */
export async function findBun(
  env: Record<string, string | undefined>,
  quick: boolean,
): Promise<{ bun?: BunPeer; note: string }> {
  const wanted = env.BENCH_BUN;
  if (wanted === "0") return { note: "Bun peer off (BENCH_BUN=0)." };
  if (quick && !wanted) {
    return { note: "Bun peer skipped in a quick run (set BENCH_BUN=1)." };
  }
  const paths = wanted && wanted !== "1" ? [wanted] : CANDIDATES;
  for (const path of paths) {
    const version = await versionOf(path);
    if (version) {
      return { bun: { path, version }, note: `Bun ${version}: ${path}` };
    }
  }
  return {
    note: `Bun peer skipped: no runnable bun at ${
      paths.join(" or ")
    } (npm install --prefix bench/.peers bun)`,
  };
}
