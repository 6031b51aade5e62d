import assert from "node:assert/strict";
import { createKvStore } from "../lib/storage/history.ts";
import { LruMap } from "../lib/storage/lru_map.ts";
import { openFaultyKv } from "./helpers/kv_faults.ts";

Deno.test("LruMap keeps at most its size, dropping the least recently used", () => {
  const lru = new LruMap<string, number>(100);
  for (let i = 0; i < 10_000; i++) {
    lru.set(`room-${i}`, i);
    if (i === 50) assert.equal(lru.get("room-0"), 0); // used: kept longer
    assert.ok(lru.size <= 100);
  }
  assert.equal(lru.size, 100);
  assert.equal(lru.get("room-9999"), 9999);
  assert.equal(lru.get("room-9900"), 9900);
  assert.equal(lru.get("room-9899"), undefined);
  assert.equal(lru.get("room-0"), undefined);
  lru.set("room-9999", -1);
  assert.equal(lru.size, 100);
  assert.equal(lru.get("room-9999"), -1);
});

Deno.test("createKvStore() remembers the heads of a bounded number of rooms", async () => {
  using faulty = await openFaultyKv();
  // The fault switch fails nothing here: it only sees which heads are read.
  const headReads: string[] = [];
  faulty.failGets((key) => {
    if (key[0] === "seq") headReads.push(String(key[1]));
    return false;
  }, "never");
  const { kv } = faulty;
  const store = createKvStore(kv, {
    historySize: 10,
    ttlMs: 60_000,
    headCacheSize: 2,
  });
  const msg = (text: string) => ({ nickname: "ann", text, ts: 1 });
  await store.append("a", [msg("1")]);
  await store.append("b", [msg("1")]);
  await store.append("b", [msg("2")]);
  assert.deepEqual(headReads, ["a", "b"]); // b's second append used the cache
  await store.append("c", [msg("1")]); // a is forgotten now
  await store.append("c", [msg("2")]);
  await store.append("a", [msg("2")]);
  assert.deepEqual(headReads, ["a", "b", "c", "a"]);
  // Forgetting costs a read, never a wrong id.
  assert.deepEqual((await store.recent("a", 10)).messages.map((m) => m.id), [
    1,
    2,
  ]);
  assert.deepEqual((await store.recent("c", 10)).messages.map((m) => m.id), [
    1,
    2,
  ]);
});
