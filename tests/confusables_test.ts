import assert from "node:assert/strict";
import { skeleton } from "../lib/auth/confusables.ts";
import { nicknameKey, validateNickname } from "../lib/auth/nicknames.ts";
import { login, loginOk, startServer } from "./helpers/harness.ts";

// The names of issue 11, item 6: each looks like "admin" or like nothing.
const LOOK_ALIKES: [string, string][] = [
  ["Cyrillic а", "\u0430dmin"],
  ["Cyrillic і", "adm\u0456n"],
  ["combining grapheme joiner", "admin\u034F"],
  ["variation selector 16", "admin\uFE0F"],
  ["Hangul filler after", "admin\u3164"],
  ["no-break space", "ad\u00A0min"],
  ["full width", "\uFF41\uFF44\uFF4D\uFF49\uFF4E"],
  ["blank braille pattern", "\u2800"],
  ["Hangul filler alone", "\u3164"],
];

Deno.test("login refuses every look-alike or blank name while admin is held", async () => {
  await using server = await startServer();
  await loginOk(server, "admin");
  for (const [what, name] of LOOK_ALIKES) {
    const res = await login(server, name);
    assert.ok(
      res.status === 409 || res.status === 400,
      `${what} ${JSON.stringify(name)}: ${res.status}`,
    );
    assert.equal(res.setCookie, null, what);
  }
});

Deno.test("login refuses the same look-alikes the other way round", async () => {
  // The Cyrillic name first: the plain Latin one is then the impostor.
  await using server = await startServer();
  await loginOk(server, "\u0430dmin");
  assert.equal((await login(server, "admin")).status, 409);
  assert.equal((await login(server, "ADMIN")).status, 409);
  assert.equal(
    (await login(server, "\uFF41\uFF44\uFF4D\uFF49\uFF4E")).status,
    409,
  );
});

Deno.test("login still accepts ordinary names in many scripts", async () => {
  await using server = await startServer();
  await loginOk(server, "admin");
  for (
    const name of [
      "小明",
      "王小明",
      "José",
      "Zoë",
      "Dvořák",
      "Åsa Øberg",
      "Ελένη",
      "Андрей",
      "😀",
      "❤️ fan",
      "ad min",
      "admin2",
    ]
  ) {
    const res = await login(server, name);
    assert.equal(res.status, 303, `${JSON.stringify(name)}: ${res.status}`);
  }
});

Deno.test("validateNickname() refuses invisible, blank and odd spaces with bad_chars", () => {
  for (
    const bad of [
      "admin\u034F",
      "admin\uFE0F",
      "a\u115Fb",
      "a\u1160b",
      "a\uFFA0b",
      "\u2800",
      "a\u2800b",
      "ad\u00A0min",
      "ad\u2002min",
      "ad\u3000min",
      "ad\u202Fmin",
      "a\u{E0061}b", // a tag character
      "a\u{E01EF}b", // a variation selector supplement
      "a\u0378b", // unassigned
      "\u0301\u0301", // marks with nothing to sit on
    ]
  ) {
    const result = validateNickname(bad);
    assert.equal(
      !result.ok && result.problem,
      "bad_chars",
      JSON.stringify(bad),
    );
  }
  // The message shows what cannot be seen.
  const r = validateNickname("admin\u3164");
  assert.match(!r.ok ? r.message : "", /^Invalid nickname "admin\\u3164": /);
  // A variation selector that picks an emoji's look is part of the emoji.
  assert.equal(validateNickname("\u2764\uFE0F").ok, true);
});

Deno.test("skeleton() follows UTS #39: NFD, ignorables dropped, prototypes", () => {
  assert.equal(skeleton("\u0430dm\u0456n"), skeleton("admin"));
  assert.equal(skeleton("admin\u034F\u200B"), skeleton("admin"));
  assert.equal(skeleton("m"), "rn");
  assert.equal(skeleton("0"), "O");
  // Decomposed and composed accents have one skeleton.
  assert.equal(skeleton("Jos\u00E9"), skeleton("Jose\u0301"));
  assert.notEqual(skeleton("José"), skeleton("Jose"));
});

Deno.test("nicknameKey() folds case, width, ignorables, spaces and look-alikes", () => {
  const admin = nicknameKey("admin");
  for (const [what, name] of LOOK_ALIKES.slice(0, 7)) {
    const key = nicknameKey(name);
    assert.equal(
      key,
      what === "no-break space" ? nicknameKey("ad min") : admin,
      what,
    );
  }
  assert.equal(nicknameKey("ad   min"), nicknameKey("ad min"));
  assert.equal(nicknameKey("STRASSE"), nicknameKey("straße"));
  assert.notEqual(nicknameKey("小明"), nicknameKey("小朋"));
  assert.notEqual(nicknameKey("Ann"), nicknameKey("Anne"));
});
