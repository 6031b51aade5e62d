import assert from "node:assert/strict";
import {
  login,
  loginOk,
  startServer,
  TestClient,
  type TestServer,
} from "./helpers/harness.ts";

// deno-lint-ignore no-explicit-any
type Event = any;

function messages(client: TestClient): Event[] {
  return client.ofType("message");
}

async function pair(
  bus: string,
): Promise<
  { a: TestServer; b: TestServer; kv: Deno.Kv; close(): Promise<void> }
> {
  const kv = await Deno.openKv(":memory:");
  const env = {
    BUS: bus,
    PRESENCE_TTL_SECONDS: "2",
    RATE_BURST: "10000",
    RATE_PER_SECOND: "10000",
  };
  const a = await startServer({ ...env, INSTANCE_ID: "a" }, { kv });
  const b = await startServer({ ...env, INSTANCE_ID: "b" }, { kv });
  return {
    a,
    b,
    kv,
    async close() {
      await a.close();
      await b.close();
      kv.close();
    },
  };
}

for (const bus of ["kv", "broadcast"]) {
  Deno.test(`${bus} bus: users on two instances see each other's messages once, in order`, async () => {
    const { a, b, close } = await pair(bus);
    try {
      const ann = await TestClient.join(a, await loginOk(a, "ann"));
      const bob = await TestClient.join(b, await loginOk(b, "bob"));
      // Presence crosses instances: by the bus at once, or by the lease sweep.
      await ann.waitFor((e) => e.type === "join" && e.nickname === "bob");
      const n = 50;
      for (let i = 1; i <= n; i++) {
        ann.send({ type: "message", text: `a${i}` });
        bob.send({ type: "message", text: `b${i}` });
      }
      await ann.waitForText(`b${n}`);
      await bob.waitForText(`a${n}`);
      await ann.waitForText(`a${n}`);
      await bob.waitForText(`b${n}`);
      for (const client of [ann, bob]) {
        const got = messages(client);
        assert.equal(got.length, 2 * n);
        // One sequence for the room, whichever instance stored the message.
        assert.deepEqual(
          got.map((m) => m.id),
          Array.from({ length: 2 * n }, (_, i) => i + 1),
        );
        for (const prefix of ["a", "b"]) {
          assert.deepEqual(
            got.filter((m) => m.text.startsWith(prefix)).map((m) => m.text),
            Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`),
          );
        }
      }
      const cara = await TestClient.join(b, await loginOk(b, "cara"));
      assert.deepEqual(cara.welcome.users, ["ann", "bob", "cara"]);
      await ann.waitFor((e) => e.type === "join" && e.nickname === "cara");
      const rooms = await (await fetch(`${a.url}/api/rooms`)).json();
      assert.deepEqual(rooms, [{ name: "lobby", users: 3 }]);
      await bob.close();
      await ann.waitFor((e) => e.type === "leave" && e.nickname === "bob");
      // Barrier: once cara's message is here, any duplicate notice would be too.
      cara.send({ type: "message", text: "barrier" });
      await ann.waitForText("barrier");
      assert.equal(
        ann.ofType("join").filter((e) => e.nickname === "bob").length,
        1,
      );
      assert.equal(
        ann.ofType("leave").filter((e) => e.nickname === "bob").length,
        1,
      );
      await ann.close();
      await cara.close();
    } finally {
      await close();
    }
  });

  Deno.test(`${bus} bus: a nickname held on one instance is refused on the other`, async () => {
    const { a, b, close } = await pair(bus);
    try {
      await loginOk(a, "Zed");
      const taken = await login(b, "zed");
      assert.equal(taken.status, 409);
      assert.equal(taken.setCookie, null);
    } finally {
      await close();
    }
  });

  Deno.test(`${bus} bus: the same user on two instances is one user, announced once`, async () => {
    const { a, b, close } = await pair(bus);
    try {
      const watcher = await TestClient.join(a, await loginOk(a, "watch"));
      const cookie = await loginOk(a, "twin");
      const t1 = await TestClient.join(a, cookie);
      const t2 = await TestClient.join(b, cookie);
      assert.deepEqual(t2.welcome.users, ["twin", "watch"]);
      await t1.close();
      await t2.close();
      await watcher.waitFor((e) => e.type === "leave" && e.nickname === "twin");
      const other = await TestClient.join(b, await loginOk(b, "other"));
      other.send({ type: "message", text: "barrier" });
      await watcher.waitForText("barrier");
      assert.equal(
        watcher.ofType("join").filter((e) => e.nickname === "twin").length,
        1,
      );
      assert.equal(
        watcher.ofType("leave").filter((e) => e.nickname === "twin").length,
        1,
      );
      await watcher.close();
      await other.close();
    } finally {
      await close();
    }
  });
}
