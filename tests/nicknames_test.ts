import assert from "node:assert/strict";
import fc from "fast-check";
import {
  MAX_NICKNAME_LENGTH,
  nicknameKey,
  validateNickname,
} from "../lib/auth/nicknames.ts";
import { createKvNicknameRegistry } from "../lib/storage/nickname_registry.ts";

Deno.test("validateNickname() trims, normalises and counts code points", () => {
  const ok = validateNickname("  Cafe\u0301  ");
  assert.deepEqual(ok, { ok: true, nickname: "Café" });
  assert.equal(validateNickname("小".repeat(24)).ok, true);
  assert.equal(validateNickname("😀".repeat(24)).ok, true);
  const long = validateNickname("小".repeat(25));
  assert.equal(long.ok, false);
  assert.equal(!long.ok && long.problem, "too_long");
});

Deno.test("validateNickname() names the problem in its message", () => {
  const r = validateNickname("a\u0000b");
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.problem, "bad_chars");
  assert.match(!r.ok ? r.message : "", /^Invalid nickname "a\\u0000b": /);
  for (const bad of ["a\u202Eb", "a\u200Bb", "a\u2028b", "a\tb"]) {
    const result = validateNickname(bad);
    assert.equal(
      !result.ok && result.problem,
      "bad_chars",
      JSON.stringify(bad),
    );
  }
  assert.equal(!validateNickname("  ").ok && "empty", "empty");
  assert.equal(validateNickname(undefined).ok, false);
});

Deno.test("validateNickname() accepts exactly the valid strings (property)", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), (raw) => {
      const result = validateNickname(raw);
      if (result.ok) {
        const n = result.nickname;
        assert.equal(n, n.trim());
        assert.equal(n, n.normalize("NFC"));
        const length = [...n].length;
        assert.ok(length >= 1 && length <= MAX_NICKNAME_LENGTH);
        assert.doesNotMatch(n, /[\p{Cc}\p{Cf}\p{Cs}\p{Cn}\u3164\u2800\u034F]/u);
        // Valid nicknames are stable: validating again changes nothing.
        assert.deepEqual(validateNickname(n), result);
      } else {
        const n = raw.normalize("NFC").trim();
        // Issue 11 added invisible, blank and unassigned characters, odd
        // spaces, and names with nothing visible in them.
        const invisible =
          /[\p{Default_Ignorable_Code_Point}\u2800\p{Cn}]|(?! )\p{Zs}/u
            .test(n.replace(/(\p{Emoji})[\uFE0E\uFE0F]/gu, "$1"));
        const invalid = n.length === 0 ||
          /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}]/u.test(n) || invisible ||
          !/[\p{L}\p{N}\p{P}\p{S}]/u.test(n) ||
          [...n].length > MAX_NICKNAME_LENGTH;
        assert.ok(invalid, JSON.stringify(raw));
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("nicknameKey() is case-insensitive (property)", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 24 }), (s) => {
      assert.equal(nicknameKey(s.toUpperCase()), nicknameKey(s.toLowerCase()));
    }),
  );
});

Deno.test("createKvNicknameRegistry() leases a name to one session at a time", async () => {
  using kv = await Deno.openKv(":memory:");
  let now = 1_000_000;
  const registry = createKvNicknameRegistry(kv, { now: () => now });
  assert.equal(await registry.claim("Ann", "s1", 1000), true);
  assert.equal(await registry.claim("ANN", "s2", 1000), false);
  assert.equal(await registry.holder("ann"), "s1");
  now += 1001;
  assert.equal(await registry.holder("ann"), undefined);
  assert.equal(await registry.claim("ann", "s2", 1000), true);
  await registry.release("ann", "s1");
  assert.equal(await registry.holder("Ann"), "s2");
  await registry.release("ann", "s2");
  assert.equal(await registry.claim("Ann", "s3", 1000), true);
  const lost = await registry.renew([
    { nickname: "Ann", sid: "s3" },
    { nickname: "Ann", sid: "s1" },
  ], 5000);
  assert.deepEqual(lost, ["Ann"]);
  // Concurrent claims of one free name: exactly one wins.
  const results = await Promise.all(
    Array.from(
      { length: 20 },
      (_, i) => registry.claim("race", `r${i}`, 1000),
    ),
  );
  assert.equal(results.filter(Boolean).length, 1);
});
