import assert from "node:assert/strict";
import { FlushPacer } from "../lib/chat/flush_pacer.ts";

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("FlushPacer: a quiet room flushes on the next microtask", async () => {
  const pacer = new FlushPacer();
  let ran = false;
  pacer.schedule(() => ran = true, () => 1);
  await Promise.resolve();
  assert.equal(ran, true);
  // A lone message after a lone message is still not held.
  pacer.timed(1, () => {});
  ran = false;
  pacer.schedule(() => ran = true, () => 1);
  await Promise.resolve();
  assert.equal(ran, true);
});

Deno.test("FlushPacer: a busy room gathers while events keep arriving, then flushes", async () => {
  const pacer = new FlushPacer({ maxHoldMs: 1000 });
  pacer.timed(50, () => {});
  assert.equal(pacer.busy, true);
  let waiting = 1;
  let ran = 0;
  pacer.schedule(() => ran++, () => waiting);
  await Promise.resolve();
  assert.equal(ran, 0, "held past the microtask");
  // Events arriving turn after turn keep it gathering.
  for (let i = 0; i < 5; i++) {
    waiting++;
    await nextTurn();
    assert.equal(ran, 0);
  }
  // A turn with nothing new lets it go, once.
  for (let i = 0; i < 20 && ran === 0; i++) await nextTurn();
  assert.equal(ran, 1);
  await nextTurn();
  assert.equal(ran, 1);
});

// Abuse: a sender that never pauses must not hold everyone's frames back
// beyond the cap.
Deno.test("FlushPacer: a flood that never pauses is flushed by the cap", async () => {
  let clock = 0;
  const pacer = new FlushPacer({ maxHoldMs: 20, now: () => clock });
  pacer.timed(50, () => {});
  let waiting = 0;
  let ran = false;
  pacer.schedule(() => ran = true, () => waiting);
  for (let i = 0; i < 100 && !ran; i++) {
    waiting++;
    clock += 1;
    await nextTurn();
  }
  assert.equal(ran, true);
  assert.ok(clock <= 22, `held for ${clock} ms`);
});

Deno.test("FlushPacer: an expensive fan-out holds the next flush about as long", async () => {
  let clock = 0;
  const pacer = new FlushPacer({ maxHoldMs: 20, now: () => clock });
  pacer.timed(50, () => clock += 8);
  assert.equal(pacer.holding, true);
  let ran = false;
  pacer.schedule(() => ran = true, () => 1);
  clock += 4;
  await nextTurn();
  await nextTurn();
  assert.equal(ran, false, "4 of the 8 ms passed");
  clock += 5;
  for (let i = 0; i < 20 && !ran; i++) await nextTurn();
  assert.equal(ran, true);
  assert.equal(pacer.holding, false);
});

Deno.test("FlushPacer: hurry() runs a held flush on a microtask instead", async () => {
  const pacer = new FlushPacer({ maxHoldMs: 10_000 });
  pacer.timed(50, () => {});
  let ran = false;
  pacer.schedule(() => ran = true, () => 1);
  pacer.hurry();
  await Promise.resolve();
  assert.equal(ran, true);
});
