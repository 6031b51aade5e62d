/**
 * Moderator passwords: the hash format, verification, MODERATORS parsing
 * that never echoes a hash, and `deno task hash-password` reading from a
 * pipe.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  DEFAULT_ITERATIONS,
  hashPassword,
  parsePasswordHash,
  verifyPassword,
} from "../lib/auth/passwords.ts";
import { ConfigError, loadConfig } from "../lib/app/config.ts";

Deno.test("hashPassword salts every hash and verifyPassword tells right from wrong", async () => {
  const a = await hashPassword("s3cret pass", { iterations: 1000 });
  const b = await hashPassword("s3cret pass", { iterations: 1000 });
  assert.match(
    a,
    /^pbkdf2-sha256\$1000\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/,
  );
  assert.notEqual(
    a,
    b,
    "a random salt makes two hashes of one password differ",
  );
  assert.ok(!a.includes("s3cret"));
  const parsed = parsePasswordHash(a);
  assert.ok(parsed.ok);
  assert.equal(await verifyPassword("s3cret pass", parsed.value), true);
  assert.equal(await verifyPassword("s3cret pasS", parsed.value), false);
  assert.equal(await verifyPassword("", parsed.value), false);
});

Deno.test("hashPassword uses OWASP's 600,000 iterations by default", async () => {
  assert.equal(DEFAULT_ITERATIONS, 600_000);
  const hash = await hashPassword("x");
  assert.equal(hash.split("$")[1], "600000");
});

Deno.test("a bad MODERATORS entry is a clear start-up error that never repeats the hash", async () => {
  const good = await hashPassword("pw", { iterations: 1000 });
  const secretish = good.slice(0, -6) + "!!!!!=";
  let error: ConfigError | undefined;
  try {
    loadConfig({
      MODERATORS: [
        `Alice:${secretish}`,
        "nocolon",
        `Bob:pbkdf2-sha256$5$AAAAAAAAAAAAAAAAAAAAAA==$${good.split("$")[3]}`,
        `B0b:${good}`,
        `bob:${good}`,
        `\u202Eevil:${good}`,
      ].join(","),
    });
  } catch (err) {
    if (err instanceof ConfigError) error = err;
  }
  assert.ok(error, "loadConfig must throw a ConfigError");
  const text = error.problems.join("\n");
  assert.match(text, /entry #1 for "Alice": the salt or the hash/);
  assert.match(text, /entry #2: expected nickname:hash/);
  assert.match(text, /entry #3 for "Bob": the iteration count/);
  assert.match(text, /entry #5 for "bob": it is the same name as an earlier/);
  assert.match(text, /entry #6: Invalid nickname/);
  for (
    const piece of [
      secretish.split("$")[3],
      good.split("$")[3],
      good.split("$")[2],
    ]
  ) {
    assert.ok(!text.includes(piece), "no hash or salt in the error");
  }
  const config = loadConfig({ MODERATORS: ` Alice:${good} ` });
  assert.equal(config.moderation.moderators[0].nickname, "Alice");
  assert.deepEqual(loadConfig({}).moderation.moderators, []);
});

Deno.test("deno task hash-password reads a piped line and prints a hash that verifies, never the password", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "hash-password"],
    cwd: new URL("../", import.meta.url).pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("pipe-word-123\n"));
  await writer.close();
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.ok(!stdout.includes("pipe-word") && !stderr.includes("pipe-word"));
  const parsed = parsePasswordHash(stdout);
  assert.ok(parsed.ok, stdout);
  assert.equal(parsed.value.iterations, DEFAULT_ITERATIONS);
  assert.equal(await verifyPassword("pipe-word-123", parsed.value), true);
});
