import assert from "node:assert/strict";
import { RoomPresence } from "../lib/chat/presence.ts";
import type { PresenceLease } from "../lib/storage/presence_leases.ts";

const TTL = 15_000;

function setup() {
  const clock = { now: 100_000 };
  const presence = new RoomPresence({
    instance: "a",
    ttlMs: TTL,
    now: () => clock.now,
  });
  const lease = (
    sid: string,
    instance: string,
    renewedAt = clock.now,
  ): PresenceLease => ({
    room: "lobby",
    sid,
    nickname: sid.toUpperCase(),
    instance,
    until: renewedAt + TTL,
  });
  return { clock, presence, lease };
}

Deno.test("RoomPresence counts a user's sockets and announces only the first and the last", () => {
  const { presence } = setup();
  assert.deepEqual(presence.addLocal("s1", "ann"), {
    firstHere: true,
    joined: true,
  });
  assert.deepEqual(presence.addLocal("s1", "ann"), {
    firstHere: false,
    joined: false,
  });
  assert.deepEqual(presence.removeLocal("s1"), {
    nickname: "ann",
    lastHere: false,
    left: false,
  });
  assert.deepEqual(presence.removeLocal("s1"), {
    nickname: "ann",
    lastHere: true,
    left: true,
  });
  assert.equal(presence.removeLocal("s1"), undefined);
  assert.equal(presence.size, 0);
});

Deno.test("RoomPresence keeps a user present while another instance still has them", () => {
  const { presence } = setup();
  presence.addLocal("s1", "ann");
  assert.equal(presence.remoteJoin("s1", "ann", "b"), false);
  const leave = presence.removeLocal("s1");
  assert.equal(leave?.lastHere, true);
  assert.equal(leave?.left, false);
  assert.deepEqual(presence.nicknames(), ["ann"]);
  assert.equal(presence.remoteLeave("s1", "b"), "ann");
  assert.deepEqual(presence.nicknames(), []);
});

Deno.test("RoomPresence reconcile() adds users leased elsewhere and expires stale instances", () => {
  const { presence, lease, clock } = setup();
  presence.addLocal("mine", "me");
  const changes = presence.reconcile([
    lease("s1", "b"),
    lease("mine", "a"), // its own lease is never taken from KV
  ]);
  assert.deepEqual(changes, { joined: ["S1"], left: [] });
  assert.deepEqual(presence.nicknames(), ["me", "S1"]);
  // b stops renewing: once its last renewal is older than the TTL, s1 leaves.
  clock.now += TTL;
  assert.deepEqual(presence.reconcile([]), { joined: [], left: [] });
  clock.now += 1;
  assert.deepEqual(presence.reconcile([]), { joined: [], left: ["S1"] });
  // This instance's own users are never swept.
  assert.deepEqual(presence.nicknames(), ["me"]);
});

Deno.test("RoomPresence dates a lease from its last renewal, not from when it is seen", () => {
  const { presence, lease, clock } = setup();
  const renewedAt = clock.now - TTL + 1000;
  presence.reconcile([lease("s1", "b", renewedAt)]);
  clock.now += 1001;
  assert.deepEqual(presence.reconcile([]).left, ["S1"]);
});

Deno.test("RoomPresence tombstones keep a stale lease from reviving a user who left", () => {
  const { presence, lease, clock } = setup();
  assert.equal(presence.remoteJoin("s1", "S1", "b"), true);
  assert.equal(presence.remoteLeave("s1", "b"), "S1");
  // The lease that b has not deleted yet is still listed: no new join.
  assert.deepEqual(presence.reconcile([lease("s1", "b")]).joined, []);
  assert.equal(presence.size, 0);
  // A new join from b clears the tombstone.
  assert.equal(presence.remoteJoin("s1", "S1", "b"), true);
  assert.equal(presence.remoteLeave("s1", "b"), "S1");
  // Tombstones expire with the TTL, so a real later lease counts again.
  clock.now += TTL + 1;
  assert.deepEqual(presence.reconcile([lease("s1", "b")]).joined, ["S1"]);
});

Deno.test("RoomPresence seed() takes others' leases without announcing them", () => {
  const { presence, lease } = setup();
  presence.seed([lease("s1", "b"), lease("s2", "c"), lease("me", "a")]);
  assert.deepEqual(presence.nicknames(), ["S1", "S2"]);
  assert.deepEqual(presence.reconcile([lease("s1", "b"), lease("s2", "c")]), {
    joined: [],
    left: [],
  });
  assert.equal(presence.localSize, 0);
});

Deno.test("RoomPresence nicknames() sorts by collation, ties by code point", () => {
  const { presence } = setup();
  for (
    const [sid, nick] of [["1", "bo"], ["2", "Ann"], ["3", "ann"], [
      "4",
      "Émile",
    ]]
  ) {
    presence.addLocal(sid, nick);
  }
  assert.deepEqual(presence.nicknames(), ["ann", "Ann", "bo", "Émile"]);
});
