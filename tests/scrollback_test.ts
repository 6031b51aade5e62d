/**
 * Scrollback over HTTP (`GET /api/rooms/:room/messages`): pages of older
 * messages in their latest state, down to the start of stored history, for
 * logged-in pages only, with a clear 4xx for anything else; and the room
 * list's `latest` id.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  getPage,
  HIGH_RATE,
  loginOk,
  range,
  type ServerEvent,
  startServer,
  type TestClient,
} from "./helpers/harness.ts";
import { openFaultyKv } from "./helpers/kv_faults.ts";

/** Fetches a scrollback page with `cookie`; returns the status and the parsed body. */
async function page(
  server: { origin: string },
  path: string,
  cookie?: string,
): Promise<{ status: number; body: ServerEvent; type: string | null }> {
  const res = await fetch(`${server.origin}${path}`, {
    headers: cookie ? { cookie } : {},
  });
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    body: await res.json(),
  };
}

/** Posts `count` messages `m1`, `m2`, ... and waits until the last is back. */
async function postMany(client: TestClient, count: number): Promise<void> {
  for (const i of range(1, count)) {
    client.send({ type: "message", text: `m${i}` });
  }
  await client.waitForText(`m${count}`);
}

const ids = (body: ServerEvent) => body.messages.map((m: ServerEvent) => m.id);

Deno.test("scrollback pages back to the start of stored history, then says so", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  await postMany(ann, 120);
  const base = "/api/rooms/lobby/messages";
  const newest = await page(server, base, ann.cookie);
  assert.equal(newest.status, 200);
  assert.match(newest.type ?? "", /^application\/json/);
  assert.deepEqual(ids(newest.body), range(71, 120));
  assert.equal(newest.body.start, false);
  // The page tells a reset store apart by the epoch, as a resume does.
  const bob = await server.join("bob");
  assert.match(newest.body.epoch, /^[A-Za-z0-9_-]{16}$/);
  assert.equal(newest.body.epoch, bob.welcome.epoch);
  const older = await page(server, `${base}?before=71`, ann.cookie);
  assert.deepEqual(ids(older.body), range(21, 70));
  assert.equal(older.body.start, false);
  const first = await page(server, `${base}?before=21`, ann.cookie);
  assert.deepEqual(ids(first.body), range(1, 20));
  assert.equal(first.body.start, true);
  // Past the start: nothing, and still the start.
  for (const before of [1, 2]) {
    const past = await page(server, `${base}?before=${before}`, ann.cookie);
    assert.equal(past.status, 200);
    assert.deepEqual(ids(past.body), before === 1 ? [] : [1]);
    assert.equal(past.body.start, true);
  }
  const small = await page(server, `${base}?before=50&limit=3`, ann.cookie);
  assert.deepEqual(ids(small.body), [47, 48, 49]);
  // A larger limit is capped to 100.
  const capped = await page(server, `${base}?limit=500`, ann.cookie);
  assert.deepEqual(ids(capped.body), range(21, 120));
  // Ids past the head are simply "newest".
  const ahead = await page(server, `${base}?before=99999&limit=2`, ann.cookie);
  assert.deepEqual(ids(ahead.body), [119, 120]);
});

Deno.test("scrollback refuses a missing session with 401 and bad parameters with 400", async () => {
  await using server = await startServer();
  const cookie = await loginOk(server, "ann");
  const anonymous = await page(server, "/api/rooms/lobby/messages");
  assert.equal(anonymous.status, 401);
  assert.equal(typeof anonymous.body.error, "string");
  const forged = await page(
    server,
    "/api/rooms/lobby/messages",
    "session=forged",
  );
  assert.equal(forged.status, 401);
  for (
    const query of [
      "before=abc",
      "before=0",
      "before=-1",
      "before=1.5",
      "before=",
      "before=1e3",
      "before=99999999999999999999",
      "limit=0",
      "limit=-5",
      "limit=ten",
      "limit=",
    ]
  ) {
    const bad = await page(
      server,
      `/api/rooms/lobby/messages?${query}`,
      cookie,
    );
    assert.equal(bad.status, 400, query);
    assert.match(bad.body.error, /^Invalid (before|limit) ".*": expected/);
  }
  const room = await page(server, "/api/rooms/Not_A_Room/messages", cookie);
  assert.equal(room.status, 404);
  assert.match(room.body.error, /^Unknown room "Not_A_Room"/);
  const empty = await page(server, "/api/rooms/nobody-here/messages", cookie);
  assert.deepEqual(empty.body, {
    room: "nobody-here",
    messages: [],
    start: true,
    epoch: "",
  });
});

Deno.test("scrollback shows latest state, counts messages not changes, and keeps text as sent", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const bob = await server.join("bob");
  const markup = `<img src=x onerror="alert(1)"> & "quotes"`;
  ann.send({ type: "message", text: markup });
  await postMany(ann, 3);
  const [first] = ann.ofType("message");
  // Many changes to the first message after it: the page must still be
  // three messages, and the first in its latest state.
  for (const emoji of ["👍", "🎉", "🦀"]) {
    bob.send({ type: "react", target: first.id, emoji });
  }
  ann.send({ type: "edit", target: first.id, text: `${markup}!` });
  ann.send({ type: "delete", target: first.id + 2 });
  await bob.waitFor((e) => e.type === "delete");
  const res = await page(
    server,
    "/api/rooms/lobby/messages?before=4&limit=3",
    ann.cookie,
  );
  const [m1, m2, m3] = res.body.messages;
  assert.deepEqual(ids(res.body), [1, 2, 3]);
  assert.equal(res.body.start, true);
  assert.equal(m1.text, `${markup}!`);
  assert.equal(m1.edited, true);
  assert.deepEqual(m1.reactions, {
    "👍": ["bob"],
    "🎉": ["bob"],
    "🦀": ["bob"],
  });
  assert.equal(m2.text, "m1");
  assert.deepEqual([m3.text, m3.deleted], ["", true]);
});

Deno.test("a change whose message fell out of HISTORY_SIZE is refused, and scrollback stops at the window", async () => {
  await using server = await startServer({
    ...HIGH_RATE,
    HISTORY_SIZE: "5",
    HISTORY_ON_JOIN: "5",
  });
  const ann = await server.join("ann");
  await postMany(ann, 3);
  ann.send({ type: "react", target: 3, emoji: "👍" });
  await ann.waitFor((e) => e.type === "reaction");
  await postMany(ann, 3); // ids 5, 6, 7: messages 1 and 2 are trimmed
  const from = ann.events.length;
  ann.send({ type: "edit", target: 1, text: "gone" });
  const error = await ann.waitFor((e) => e.type === "error", { from });
  assert.equal(error.code, "not_found");
  const res = await page(server, "/api/rooms/lobby/messages", ann.cookie);
  assert.deepEqual(ids(res.body), [3, 5, 6, 7]);
  assert.equal(res.body.start, true);
  assert.deepEqual(res.body.messages[0].reactions, { "👍": ["ann"] });
  const bob = await server.join("bob");
  assert.deepEqual(bob.welcome.history.map((m: ServerEvent) => m.id), [
    3,
    5,
    6,
    7,
  ]);
});

Deno.test("the room list gives each room's latest id, changes included", async () => {
  await using server = await startServer(HIGH_RATE);
  const ann = await server.join("ann");
  const dev = await server.join("dev", { room: "dev" });
  await postMany(ann, 2);
  ann.send({ type: "react", target: 1, emoji: "👍" });
  await ann.waitFor((e) => e.type === "reaction");
  const rooms = await (await fetch(`${server.origin}/api/rooms`)).json();
  assert.deepEqual(rooms, [
    { name: "dev", users: 1, latest: 0 },
    { name: "lobby", users: 1, latest: 3 },
  ]);
  await dev.close();
});

Deno.test("scrollback answers 503 when KV refuses the read, never a 500", async () => {
  using faulty = await openFaultyKv();
  await using server = await startServer({}, { kv: faulty.kv });
  const cookie = await loginOk(server, "reader");
  faulty.failGets((key) => key[0] === "seq", "Database is locked");
  const page = await getPage(server, "/api/rooms/lobby/messages", cookie);
  assert.equal(page.status, 503);
  assert.equal(page.headers.get("retry-after"), "5");
  assert.ok(!page.body.includes("Database is locked"));
  faulty.heal();
  assert.equal(
    (await getPage(server, "/api/rooms/lobby/messages", cookie)).status,
    200,
  );
});
