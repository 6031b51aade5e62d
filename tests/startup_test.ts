/**
 * Starting main.ts as an operator would, in child processes: HOST is the
 * listening address whatever HOSTNAME says, and each start-up failure (port
 * taken, host unknown, KV not writable, Deno Deploy without its secret or
 * database) is one line naming the setting, and exit 1.
 *
 * @module
 */
import assert from "node:assert/strict";
import { freePort, healthz, SECRET, spawnServer } from "./helpers/harness.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Runs `deno task start` until it exits (bounded), with only `env` and what Deno needs to find its cache. */
async function runToExit(
  env: Record<string, string>,
): Promise<{ code: number; lines: string[] }> {
  const keep: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) keep[name] = value;
  }
  // As an operator starts it: the start task, with its scoped permissions.
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "start"],
    cwd: ROOT,
    clearEnv: true,
    env: { ...keep, PORT: String(freePort()), HOST: "127.0.0.1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const text = new TextDecoder().decode(output.stderr);
  return { code: output.code, lines: text.split("\n").filter((l) => l) };
}

/** Asserts one JSON error line that matches `pattern` and shows no stack. */
function assertOneLine(
  result: { code: number; lines: string[] },
  pattern: RegExp,
): void {
  assert.equal(result.code, 1, result.lines.join("\n"));
  assert.equal(result.lines.length, 1, result.lines.join("\n"));
  const line = JSON.parse(result.lines[0]);
  assert.equal(line.level, "ERROR");
  assert.match(line.message, pattern);
  assert.doesNotMatch(result.lines[0], /\bat file:|Uncaught/);
}

Deno.test("HOSTNAME=some-name changes nothing: the server listens on HOST", async () => {
  await using server = await spawnServer({
    HOSTNAME: "some-name",
    HOST: "127.0.0.1",
    KV_PATH: ":memory:",
  });
  const health = await healthz(server);
  assert.equal(health.status, 200);
  assert.equal(health.body.status, "ok");
});

Deno.test("A port in use is one line naming PORT, and exit 1", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = await runToExit({
    PORT: String(listener.addr.port),
    COOKIE_SECRET: SECRET,
    KV_PATH: ":memory:",
  });
  assertOneLine(result, /^Cannot listen on PORT ".+": .*set PORT to a free/);
});

Deno.test("A host that does not resolve is one line naming HOST, and exit 1", async () => {
  const result = await runToExit({
    HOST: "no-such-host.invalid",
    COOKIE_SECRET: SECRET,
    KV_PATH: ":memory:",
  });
  assertOneLine(result, /^Cannot listen on HOST "no-such-host\.invalid": /);
});

Deno.test("A KV_PATH that cannot be written is one line naming KV_PATH, and exit 1", async () => {
  // Nobody, root included, may make a folder under /proc.
  const result = await runToExit({
    KV_PATH: "/proc/chat-test/chat.db",
    COOKIE_SECRET: SECRET,
  });
  assertOneLine(
    result,
    /^Cannot open KV_PATH "\/proc\/chat-test\/chat\.db": .*set KV_PATH/,
  );
});

/** Deno Deploy as the runtime simulates it: no database means a fallback store per instance. */
const DEPLOY = {
  DENO_DEPLOYMENT_ID: "sim",
  DENO_KV_REQUIRES_DISTRIBUTED_DATABASE: "warn",
};

Deno.test("On Deno Deploy without COOKIE_SECRET: one line naming it, and exit 1", async () => {
  const result = await runToExit({ ...DEPLOY });
  assertOneLine(result, /^Missing COOKIE_SECRET on Deno Deploy: .*set one/);
});

Deno.test("On Deno Deploy without a KV database assigned: one line saying so, and exit 1", async () => {
  const result = await runToExit({ ...DEPLOY, COOKIE_SECRET: SECRET });
  assertOneLine(
    result,
    /^No Deno KV database is assigned to this app on Deno Deploy: .*assign it to the app/,
  );
});

Deno.test("On Deno Deploy a local KV_PATH is refused: each instance would have its own", async () => {
  const result = await runToExit({
    ...DEPLOY,
    COOKIE_SECRET: SECRET,
    KV_PATH: ":memory:",
  });
  assertOneLine(result, /^Invalid KV_PATH ":memory:" on Deno Deploy: /);
});
