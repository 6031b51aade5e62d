import assert from "node:assert/strict";
import type { ChatMessage, RoomEvent } from "../lib/chat/protocol.ts";
import { GAP_RETRY_MS, GAP_WAIT_MS, Sequencer } from "../lib/chat/sequencer.ts";

function msg(id: number): ChatMessage {
  return { type: "message", id, nickname: "ann", text: `m${id}`, ts: id };
}

function ids(events: RoomEvent[]): number[] {
  return events.flatMap((e) => e.type === "message" ? [e.id] : []);
}

/** A sequencer over a fake clock and a fake store holding `stored` ids. */
function setup(stored: number[] = []) {
  const clock = { now: 1_000 };
  const store = new Map(stored.map((id) => [id, msg(id)]));
  const reads: [number, number][] = [];
  const sequencer = new Sequencer({
    now: () => clock.now,
    readRange(after, upTo) {
      reads.push([after, upTo]);
      const out = [...store.values()].filter((m) =>
        m.id > after && m.id <= upTo
      );
      return Promise.resolve(out.sort((a, b) => a.id - b.id));
    },
  });
  return { clock, store, reads, sequencer };
}

Deno.test("Sequencer passes messages that continue the sequence without reading the store", async () => {
  const { sequencer, reads } = setup();
  sequencer.start(4);
  const events: RoomEvent[] = [
    msg(5),
    { type: "typing", nickname: "bo" },
    msg(6),
  ];
  const out = await sequencer.order(events);
  assert.equal(out.events, events);
  assert.equal(sequencer.delivered, 6);
  assert.deepEqual(reads, []);
  assert.equal(out.retryInMs, undefined);
});

Deno.test("Sequencer drops messages already delivered", async () => {
  const { sequencer } = setup();
  sequencer.start(3);
  assert.equal(sequencer.wants(3), false);
  assert.equal(sequencer.wants(4), true);
  const out = await sequencer.order([msg(2), msg(3), msg(4)]);
  assert.deepEqual(ids(out.events), [4]);
});

Deno.test("Sequencer wants every id before it has started", () => {
  const { sequencer } = setup();
  assert.equal(sequencer.started, false);
  assert.equal(sequencer.wants(1), true);
  assert.equal(sequencer.behind, false);
});

Deno.test("Sequencer fills a hole from the store and keeps other events in place", async () => {
  const { sequencer, reads } = setup([3, 4]);
  sequencer.start(2);
  const join: RoomEvent = { type: "join", nickname: "cy", ts: 0 };
  const out = await sequencer.order([join, msg(5), msg(6)]);
  assert.deepEqual(ids(out.events), [3, 4, 5, 6]);
  assert.equal(out.events[0], join);
  assert.deepEqual(reads, [[2, 6]]);
  assert.equal(sequencer.delivered, 6);
  assert.equal(out.retryInMs, undefined);
});

Deno.test("Sequencer holds messages past a hole the store lacks and asks to retry", async () => {
  const { sequencer } = setup();
  sequencer.start(0);
  const out = await sequencer.order([msg(2), msg(3)]);
  assert.deepEqual(ids(out.events), []);
  assert.equal(out.retryInMs, GAP_RETRY_MS);
  assert.equal(sequencer.delivered, 0);
  // Message 1 arrives over the bus: everything held follows it, in order.
  const next = await sequencer.order([msg(1)]);
  assert.deepEqual(ids(next.events), [1, 2, 3]);
  assert.equal(next.retryInMs, undefined);
});

Deno.test("Sequencer retry looks for the waiting hole in the store again", async () => {
  const { sequencer, store, reads } = setup();
  sequencer.start(0);
  await sequencer.order([msg(2)]);
  store.set(1, msg(1));
  assert.equal(sequencer.behind, false);
  sequencer.retry();
  assert.equal(sequencer.behind, true);
  const out = await sequencer.order([]);
  assert.deepEqual(ids(out.events), [1, 2]);
  assert.deepEqual(reads.at(-1), [0, 2]);
});

Deno.test("Sequencer skips a hole lost between instances once it has waited long enough", async () => {
  const { sequencer, clock } = setup();
  sequencer.start(0);
  const first = await sequencer.order([msg(3), msg(4)]);
  assert.equal(first.skipped, undefined);
  clock.now += GAP_WAIT_MS; // not yet past the wait
  sequencer.retry();
  const second = await sequencer.order([]);
  assert.equal(second.skipped, undefined);
  assert.equal(second.retryInMs, GAP_RETRY_MS);
  clock.now += 1;
  sequencer.retry();
  const third = await sequencer.order([]);
  assert.deepEqual(third.skipped, { from: 1, to: 2 });
  assert.equal(sequencer.delivered, 2);
  // What lay past the hole goes out on the next order, and nothing stalls.
  assert.equal(sequencer.behind, true);
  const fourth = await sequencer.order([]);
  assert.deepEqual(ids(fourth.events), [3, 4]);
  assert.equal(fourth.retryInMs, undefined);
  const fifth = await sequencer.order([msg(5)]);
  assert.deepEqual(ids(fifth.events), [5]);
});

Deno.test("Sequencer catchUp() delivers what other instances committed", async () => {
  const { sequencer } = setup([1, 2, 3]);
  sequencer.start(1);
  sequencer.catchUp(3);
  assert.equal(sequencer.behind, true);
  const out = await sequencer.order([]);
  assert.deepEqual(ids(out.events), [2, 3]);
  assert.equal(sequencer.behind, false);
  // A lower head seen later changes nothing.
  sequencer.catchUp(2);
  assert.equal(sequencer.behind, false);
});

Deno.test("Sequencer hands out each id once whatever order copies arrive in", async () => {
  const { sequencer } = setup([1, 2, 3, 4, 5, 6]);
  sequencer.start(0);
  const seen: number[] = [];
  for (const batch of [[3, 1], [2, 2, 6], [1, 5, 4], [6]]) {
    seen.push(...ids((await sequencer.order(batch.map(msg))).events));
  }
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
});
