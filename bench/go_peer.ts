/**
 * Builds the Go load generator (bench/go_load, capacity workload only) that
 * BENCH_LOAD=go uses, without any network: Go and its WebSocket library come
 * from Debian (`apt-get install golang-go golang-github-gorilla-websocket-dev`),
 * the library from /usr/share/gocode in GOPATH mode. The binary goes into
 * the git-ignored bench/.peers and is rebuilt when a source file is newer.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const SOURCE_DIR = `${ROOT}bench/go_load`;
const PEERS_DIR = `${ROOT}bench/.peers`;
const BINARY = `${PEERS_DIR}/go_load`;
const GO_CANDIDATES = ["go", "/usr/lib/go/bin/go", "/usr/local/go/bin/go"];
/** Where Debian's golang-*-dev packages put their sources. */
const DEBIAN_GOPATH = "/usr/share/gocode";

/** The built Go load: its binary and the Go that built it. */
export interface GoLoad {
  path: string;
  goVersion: string;
}

async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      ...options,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(
      out.success ? out.stdout : out.stderr,
    ).trim();
    return { ok: out.success, text };
  } catch (err) {
    return {
      ok: false,
      text: err instanceof Error ? err.message : String(err),
    };
  }
}

async function mtime(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

/** Whether the binary is missing or older than any Go source file. */
async function stale(): Promise<boolean> {
  const built = await mtime(BINARY);
  if (built === 0) return true;
  for await (const entry of Deno.readDir(SOURCE_DIR)) {
    if (entry.name.endsWith(".go")) {
      if (await mtime(`${SOURCE_DIR}/${entry.name}`) > built) return true;
    }
  }
  return false;
}

/**
 * The Go load, built if needed, or why there is none: Go missing, or the
 * build failing (most often the gorilla/websocket package not installed).
 */
export async function findGoLoad(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<{ load?: GoLoad; note: string }> {
  let go = "";
  let goVersion = "";
  for (const candidate of GO_CANDIDATES) {
    const out = await run(candidate, ["version"]);
    if (out.ok) {
      go = candidate;
      goVersion = out.text;
      break;
    }
  }
  if (!go) {
    return {
      note: `Go load unavailable: no go at ${
        GO_CANDIDATES.join(" or ")
      } (apt-get install golang-go golang-github-gorilla-websocket-dev)`,
    };
  }
  if (await stale()) {
    await Deno.mkdir(PEERS_DIR, { recursive: true });
    const gopath = [env.GOPATH, DEBIAN_GOPATH].filter((p) => p).join(":");
    const built = await run(go, ["build", "-o", BINARY, "."], {
      cwd: SOURCE_DIR,
      env: {
        // GOPATH mode: the library is a Debian source tree, not a module.
        GO111MODULE: "off",
        GOPATH: gopath,
        GOPROXY: "off",
        GOFLAGS: "",
        GOCACHE: `${PEERS_DIR}/go-cache`,
      },
    });
    if (!built.ok) {
      return {
        note:
          `Go load unavailable: go build failed (GOPATH ${gopath}; is golang-github-gorilla-websocket-dev installed?): ${
            built.text.split("\n").slice(0, 5).join(" ")
          }`,
      };
    }
  }
  return {
    load: { path: BINARY, goVersion },
    note: `Go load (${goVersion}): ${BINARY}`,
  };
}
