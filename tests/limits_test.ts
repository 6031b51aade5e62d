import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AddressLimiter,
  ConnectionCounter,
  TokenBucket,
} from "../lib/chat/limits.ts";

Deno.test("TokenBucket allows a burst then one per refill interval", () => {
  const bucket = new TokenBucket({ burst: 10, perSecond: 1, now: 0 });
  for (let i = 0; i < 10; i++) assert.equal(bucket.take(0), 0);
  const wait = bucket.take(0);
  assert.ok(wait > 0.99 && wait <= 1, String(wait));
  assert.equal(bucket.take(1000), 0);
  assert.ok(bucket.take(1000) > 0);
});

Deno.test("TokenBucket never grants more than burst + rate x time (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.double({ min: 0.1, max: 100, noNaN: true }),
      fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 300 }),
      (burst, perSecond, gaps) => {
        const bucket = new TokenBucket({ burst, perSecond, now: 0 });
        let now = 0;
        let granted = 0;
        for (const gap of gaps) {
          now += gap;
          const wait = bucket.take(now);
          if (wait === 0) granted++;
          else assert.ok(wait > 0 && wait <= 1 / perSecond + 1e-9);
          assert.ok(granted <= burst + (now / 1000) * perSecond + 1e-9);
        }
      },
    ),
  );
});

Deno.test("TokenBucket grants a token after the wait it advertised (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.double({ min: 0.1, max: 50, noNaN: true }),
      (burst, perSecond) => {
        const bucket = new TokenBucket({ burst, perSecond, now: 0 });
        for (let i = 0; i < burst; i++) bucket.take(0);
        const wait = bucket.take(0);
        assert.ok(wait > 0);
        assert.equal(bucket.take(Math.ceil(wait * 1000) + 1), 0);
      },
    ),
  );
});

Deno.test("TokenBucket mints nothing when the clock goes backwards", () => {
  const bucket = new TokenBucket({ burst: 1, perSecond: 1, now: 5000 });
  assert.equal(bucket.take(5000), 0);
  assert.ok(bucket.take(0) > 0);
  assert.ok(bucket.take(5000) > 0);
});

Deno.test("ConnectionCounter refuses past the per-address and total limits", () => {
  const counter = new ConnectionCounter({ maxPerIp: 2, maxTotal: 3 });
  assert.equal(counter.acquire("a"), undefined);
  assert.equal(counter.acquire("a"), undefined);
  assert.equal(counter.acquire("a"), "per_ip");
  assert.equal(counter.acquire("b"), undefined);
  assert.equal(counter.acquire("c"), "total");
  counter.release("a");
  counter.release("a");
  counter.release("a");
  assert.equal(counter.total, 1);
  assert.equal(counter.addresses, 1);
});

Deno.test("AddressLimiter holds at most maxAddresses buckets, whatever the addresses", () => {
  const limiter = new AddressLimiter({
    burst: 2,
    perSecond: 0.001,
    maxAddresses: 100,
  });
  for (let i = 0; i < 10000; i++) {
    limiter.take(`10.0.${i >> 8}.${i & 255}`, i);
    assert.ok(limiter.size <= 100, `${limiter.size} buckets at ${i}`);
  }
  // Pruning never hands an address that is spending a fresh bucket.
  limiter.take("192.0.2.1", 20000);
  limiter.take("192.0.2.1", 20000);
  assert.ok(limiter.take("192.0.2.1", 20000) > 0);
});

Deno.test("AddressLimiter keeps each address's bucket apart", () => {
  const limiter = new AddressLimiter({
    burst: 1,
    perSecond: 1,
    maxAddresses: 10,
  });
  assert.equal(limiter.take("a", 0), 0);
  assert.ok(limiter.take("a", 0) > 0);
  assert.equal(limiter.take("b", 0), 0);
  assert.equal(limiter.take("a", 1000), 0);
});
