/**
 * Two app instances over one KV, joined by the in-process buses (`kv` and
 * `broadcast`): what a user sees must not depend on which instance serves it.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  barrier,
  count,
  exchange,
  login,
  loginOk,
  startPair,
} from "./helpers/harness.ts";

const BUS_ENV = {
  PRESENCE_TTL_SECONDS: "2",
  RATE_BURST: "10000",
  RATE_PER_SECOND: "10000",
};

for (const bus of ["kv", "broadcast"]) {
  Deno.test(`${bus} bus delivers every message once, in order, to users on two instances`, async () => {
    await using pair = await startPair({ ...BUS_ENV, BUS: bus });
    const { a, b } = pair;
    const ann = await a.join("ann");
    const bob = await b.join("bob");
    // Presence crosses instances: by the bus at once, or by the lease sweep.
    await ann.waitForNotice("join", "bob");
    await exchange([ann, bob], 50, (name, i) => `${name[0]}${i}`);
    const cara = await b.join("cara");
    assert.deepEqual(cara.welcome.users, ["ann", "bob", "cara"]);
    await ann.waitForNotice("join", "cara");
    const rooms = await (await fetch(`${a.url}/api/rooms`)).json();
    assert.deepEqual(rooms, [{ name: "lobby", users: 3, latest: 100 }]);
    await bob.close();
    await ann.waitForNotice("leave", "bob");
    // Once cara's message is here, any duplicate notice would be too.
    await barrier(cara, [ann]);
    assert.equal(count(ann, "join", "bob"), 1);
    assert.equal(count(ann, "leave", "bob"), 1);
  });

  Deno.test(`${bus} bus refuses on one instance a nickname held on the other`, async () => {
    await using pair = await startPair({ ...BUS_ENV, BUS: bus });
    await loginOk(pair.a, "Zed");
    const taken = await login(pair.b, "zed");
    assert.equal(taken.status, 409);
    assert.equal(taken.setCookie, null);
  });

  Deno.test(`${bus} bus counts the same user on two instances as one, announced once`, async () => {
    await using pair = await startPair({ ...BUS_ENV, BUS: bus });
    const { a, b } = pair;
    const watcher = await a.join("watch");
    const t1 = await a.join("twin");
    const t2 = await b.joinWith(t1.cookie);
    assert.deepEqual(t2.welcome.users, ["twin", "watch"]);
    await t1.close();
    await t2.close();
    await watcher.waitForNotice("leave", "twin");
    const other = await b.join("other");
    await barrier(other, [watcher]);
    assert.equal(count(watcher, "join", "twin"), 1);
    assert.equal(count(watcher, "leave", "twin"), 1);
  });
}
