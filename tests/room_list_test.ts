/**
 * The rooms list's unread counts: `GET /api/rooms?read=room:id,...`, its
 * limits, its refusals, and the mention rule it shares with the page.
 *
 * @module
 */
import assert from "node:assert/strict";
import { HIGH_RATE, joinAs, loginOk, startServer } from "./helpers/harness.ts";
import { mentions, parseReadList } from "../routes/room_list.ts";

Deno.test("rooms list counts unread messages and mentions of visited rooms", async () => {
  await using server = await startServer(HIGH_RATE);
  const annCookie = await loginOk(server, "ann");
  const bo = await joinAs(server, "bo");
  // A room nobody is in now, with history: listed when visited
  const dev = await joinAs(server, "dev-bot", { room: "dev" });
  dev.send({ type: "message", text: "in dev" });
  await dev.waitForText("in dev");
  await dev.close();
  bo.send({ type: "message", text: "one" });
  const one = await bo.waitForText("one") as { id: number };
  bo.send({ type: "message", text: "two @ann" });
  const two = await bo.waitForText("two @ann") as { id: number };
  bo.send({ type: "react", target: two.id, emoji: "👍" });
  bo.send({ type: "message", text: "@annie is someone else" });
  await bo.waitForText("@annie is someone else");
  const get = (query: string, cookie = annCookie) =>
    fetch(`${server.origin}/api/rooms${query}`, { headers: { cookie } });

  const res = await get(`?read=lobby:${one.id},dev:0,nowhere:0`);
  assert.equal(res.status, 200);
  const rooms = await res.json() as Record<string, unknown>[];
  const lobby = rooms.find((r) => r.name === "lobby");
  // The reaction is a change, not a message: two unread, one mention
  assert.equal(lobby?.unread, 2);
  assert.equal(lobby?.mentions, 1);
  assert.equal(lobby?.capped, false);
  const devRoom = rooms.find((r) => r.name === "dev");
  assert.deepEqual(
    [devRoom?.users, devRoom?.unread],
    [0, 1],
  );
  // A room that does not exist is not made up
  assert.equal(rooms.some((r) => r.name === "nowhere"), false);

  // Bad lists are refused clearly; a list needs a session
  for (const bad of ["lobby", "lobby:-1", "Lobby:1", "lobby:1;dev:2"]) {
    const r = await get(`?read=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, bad);
    assert.match((await r.json()).error, /^Invalid read "/);
  }
  const many = Array.from({ length: 21 }, (_, i) => `r${i}:0`).join(",");
  const tooMany = await get(`?read=${many}`);
  assert.equal(tooMany.status, 400);
  await tooMany.body?.cancel();
  const anonymous = await get("?read=lobby:0", "");
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  // Without a list, the answer is as before
  const plain = await (await get("", "")).json() as Record<string, unknown>[];
  assert.equal(plain.some((r) => "unread" in r), false);
});

Deno.test("mentions and read lists parse strictly", () => {
  assert.equal(mentions("hi @Ann!", "ann"), true);
  assert.equal(mentions("hi @annie", "ann"), false);
  assert.equal(mentions("mail ann@example.com", "ann"), false);
  assert.equal(mentions("@安娜，你好", "安娜"), true);
  const ok = parseReadList("lobby:3,dev-team:0");
  assert.ok(ok.ok);
  assert.deepEqual([...ok.list], [["lobby", 3], ["dev-team", 0]]);
  assert.equal(parseReadList("").ok, true);
  assert.equal(parseReadList("lobby:01").ok, false);
});
