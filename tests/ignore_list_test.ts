/**
 * The page's ignore list (static/chat/ignore_list.js) over a Map-backed
 * storage: what it keeps, and that no stored value, however bad, throws.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  createIgnoreList,
  IGNORE_KEY,
  MAX_IGNORED,
  parseIgnored,
} from "../static/chat/ignore_list.js";

/** A Storage stand-in; `failing` makes every call throw, as disabled storage does. */
function mapStorage(initial?: string, failing = false) {
  const map = new Map<string, string>();
  if (initial !== undefined) map.set(IGNORE_KEY, initial);
  return {
    map,
    getItem(key: string) {
      if (failing) throw new Error("SecurityError");
      return map.get(key) ?? null;
    },
    setItem(key: string, value: string) {
      if (failing) throw new Error("QuotaExceededError");
      map.set(key, value);
    },
  };
}

Deno.test("ignore list keeps names across pages in one key", () => {
  const storage = mapStorage();
  const first = createIgnoreList({ storage });
  const heard: string[] = [];
  first.listen((nickname) => heard.push(nickname));
  assert.equal(first.add("bo"), true);
  assert.equal(first.add("bo"), false);
  assert.equal(first.add("cy"), true);
  assert.deepEqual(JSON.parse(storage.map.get(IGNORE_KEY)!), ["bo", "cy"]);
  const second = createIgnoreList({ storage });
  assert.equal(second.has("bo"), true);
  assert.equal(second.has("ann"), false);
  assert.equal(first.remove("bo"), true);
  assert.equal(first.remove("bo"), false);
  assert.deepEqual(first.list(), ["cy"]);
  assert.deepEqual(heard, ["bo", "cy", "bo"]);
});

Deno.test("ignore list caps at 200 names, forgetting the oldest", () => {
  const storage = mapStorage();
  const list = createIgnoreList({ storage });
  for (let i = 0; i <= MAX_IGNORED; i++) list.add(`p${i}`);
  assert.equal(list.list().length, MAX_IGNORED);
  assert.equal(list.has("p0"), false);
  assert.equal(list.has(`p${MAX_IGNORED}`), true);
  // What it wrote reads back whole
  assert.equal(createIgnoreList({ storage }).list().length, MAX_IGNORED);
});

Deno.test("ignore list reads a corrupt or oversized value as empty", () => {
  const bad = [
    "{not json",
    "null",
    '"bo"',
    '{"0":"bo"}',
    '["bo", 7]',
    '["bo", ""]',
    JSON.stringify(["x".repeat(101)]),
    JSON.stringify(Array.from({ length: MAX_IGNORED + 1 }, (_, i) => `p${i}`)),
    `["${"a".repeat(5_000_000)}"]`,
    "[".repeat(100_000),
  ];
  for (const raw of bad) {
    assert.deepEqual(parseIgnored(raw), [], raw.slice(0, 40));
    const list = createIgnoreList({ storage: mapStorage(raw) });
    assert.deepEqual(list.list(), []);
    // And it still works from there, replacing the bad value
    assert.equal(list.add("bo"), true);
    assert.equal(list.has("bo"), true);
  }
  assert.deepEqual(parseIgnored(undefined), []);
  assert.deepEqual(parseIgnored('["bo","bo","cy"]'), ["bo", "cy"]);
});

Deno.test("ignore list works for the page alone when storage throws", () => {
  const list = createIgnoreList({ storage: mapStorage(undefined, true) });
  assert.deepEqual(list.list(), []);
  assert.equal(list.add("bo"), true);
  assert.equal(list.has("bo"), true);
  assert.equal(createIgnoreList().add("bo"), true);
});
