/**
 * The browser's files from static/, read once on first use (the app loads
 * them as it starts), each with a content hash used for its ETag and its
 * cache-busting URL.
 *
 * @module
 */

/** One file ready to serve. */
export interface StaticFile {
  body: Uint8Array;
  contentType: string;
  /** First 16 hex digits of the SHA-256 of the body. */
  hash: string;
}

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  json: "application/json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  woff2: "font/woff2",
};

const STATIC_DIR = new URL("../../static/", import.meta.url);

async function hashOf(body: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

async function readDir(
  dir: URL,
  prefix: string,
  out: Map<string, StaticFile>,
): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory) {
      await readDir(
        new URL(`${entry.name}/`, dir),
        `${prefix}${entry.name}/`,
        out,
      );
      continue;
    }
    const ext = entry.name.slice(entry.name.lastIndexOf(".") + 1);
    const body = await Deno.readFile(new URL(entry.name, dir));
    out.set(`${prefix}${entry.name}`, {
      body,
      contentType: TYPES[ext] ?? "application/octet-stream",
      hash: await hashOf(body),
    });
  }
}

let loading: Promise<ReadonlyMap<string, StaticFile>> | undefined;
let loaded: ReadonlyMap<string, StaticFile> | undefined;

/** Every file under static/, keyed by its path relative to static/; read once. */
export function staticFiles(): Promise<ReadonlyMap<string, StaticFile>> {
  loading ??= (async () => {
    const files = new Map<string, StaticFile>();
    await readDir(STATIC_DIR, "", files);
    loaded = files;
    return files;
  })();
  return loading;
}

/**
 * The URL of a file in static/, versioned by its content hash so it can be
 * cached for good; unversioned until {@linkcode staticFiles} has loaded.
 */
export function assetPath(name: string): string {
  const file = loaded?.get(name);
  return file ? `/static/${name}?v=${file.hash}` : `/static/${name}`;
}
