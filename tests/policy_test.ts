import assert from "node:assert/strict";
import {
  MAX_CIDS,
  SessionPolicy,
  STRIKES_PER_BURST,
  TYPING_INTERVAL_MS,
} from "../lib/chat/policy.ts";
import type { ChatMessage } from "../lib/chat/protocol.ts";

function message(cid: string, id = 0): ChatMessage {
  return { type: "message", id, nickname: "ann", text: "hi", ts: 0, cid };
}

Deno.test("SessionPolicy takeMessage() allows a burst, then says how long to wait", () => {
  const policy = new SessionPolicy({ burst: 3, perSecond: 2, now: 0 });
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(policy.takeMessage(0), { kind: "ok" });
  }
  assert.deepEqual(policy.takeMessage(0), { kind: "wait", seconds: 0.5 });
  assert.deepEqual(policy.takeMessage(250), { kind: "wait", seconds: 0.3 });
  assert.deepEqual(policy.takeMessage(500), { kind: "ok" });
});

Deno.test("SessionPolicy takeMessage() calls it abuse after too many refusals in a row", () => {
  const burst = 2;
  const policy = new SessionPolicy({ burst, perSecond: 1, now: 0 });
  policy.takeMessage(0);
  policy.takeMessage(0);
  for (let i = 0; i < STRIKES_PER_BURST * burst; i++) {
    assert.equal(policy.takeMessage(0).kind, "wait");
  }
  assert.equal(policy.takeMessage(0).kind, "abuse");
});

Deno.test("SessionPolicy strikes start again after a message goes through", () => {
  const policy = new SessionPolicy({ burst: 1, perSecond: 1, now: 0 });
  policy.takeMessage(0);
  for (let i = 0; i < STRIKES_PER_BURST; i++) policy.takeMessage(0);
  assert.equal(policy.takeMessage(1000).kind, "ok");
  for (let i = 0; i < STRIKES_PER_BURST; i++) {
    assert.equal(policy.takeMessage(1000).kind, "wait");
  }
  assert.equal(policy.takeMessage(1000).kind, "abuse");
});

Deno.test("SessionPolicy remembers cids, forgets on request and keeps only the newest", () => {
  const policy = new SessionPolicy({ burst: 1, perSecond: 1, now: 0 });
  const first = message("c0", 7);
  policy.remember(first);
  assert.equal(policy.seen("c0"), first);
  policy.forget("c0");
  assert.equal(policy.seen("c0"), undefined);
  for (let i = 0; i <= MAX_CIDS; i++) policy.remember(message(`c${i}`));
  assert.equal(policy.seen("c0"), undefined);
  assert.ok(policy.seen("c1"));
  assert.ok(policy.seen(`c${MAX_CIDS}`));
  // A message without a cid is not remembered.
  policy.remember({ type: "message", id: 1, nickname: "a", text: "b", ts: 0 });
  assert.ok(policy.seen("c1"));
});

Deno.test("SessionPolicy allowTyping() lets one typing event per room through each interval", () => {
  const policy = new SessionPolicy({ burst: 1, perSecond: 1, now: 0 });
  const t0 = 10_000;
  assert.equal(policy.allowTyping("lobby", t0), true);
  assert.equal(policy.allowTyping("lobby", t0 + TYPING_INTERVAL_MS - 1), false);
  assert.equal(policy.allowTyping("other", t0 + 1), true);
  assert.equal(policy.allowTyping("lobby", t0 + TYPING_INTERVAL_MS), true);
});

Deno.test("SessionPolicy strike() closes a flood of refused frames but forgives them at the message rate", () => {
  const burst = 2;
  const policy = new SessionPolicy({ burst, perSecond: 1, now: 0 });
  // A flood within one moment: 5 x burst strikes, then abuse.
  for (let i = 0; i < STRIKES_PER_BURST * burst; i++) {
    assert.equal(policy.strike(0), false);
  }
  assert.equal(policy.strike(0), true);
  // One refusal a second (two tabs typing, a retry) is forgiven as it comes.
  const calm = new SessionPolicy({ burst, perSecond: 1, now: 0 });
  for (let t = 0; t < 100; t++) assert.equal(calm.strike(t * 1000), false);
  // Refusals of any kind add up with refused messages.
  const mixed = new SessionPolicy({ burst: 1, perSecond: 1, now: 0 });
  mixed.takeMessage(0);
  for (let i = 0; i < STRIKES_PER_BURST - 1; i++) mixed.strike(0);
  assert.equal(mixed.takeMessage(0).kind, "wait");
  assert.equal(mixed.takeMessage(0).kind, "abuse");
});
