/**
 * `GET /audit`: the audit log as a page, for moderators only, newest first,
 * paged with `before` like the API; real logins over HTTP.
 *
 * @module
 */
import assert from "node:assert/strict";
import { getPage, loginOk, startServer } from "./helpers/harness.ts";
import { joinAsModerator, MOD_ENV, moderate } from "./helpers/moderation.ts";

/** The text of each cell of each row of the page's table, HTML entities kept. */
function rows(html: string): string[][] {
  const body = html.match(/<tbody>([\s\S]*?)<\/tbody>/)?.[1] ?? "";
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...row[1].matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) =>
      cell[1].replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim()
    )
  );
}

/** The address the "Older" link leads to, if the page has one. */
function olderLink(html: string): string | undefined {
  return html.match(/<a href="([^"]+)" rel="next"/)?.[1].replaceAll(
    "&amp;",
    "&",
  );
}

Deno.test("GET /audit sends a visitor to /login and refuses a non-moderator and a bad page", async () => {
  await using server = await startServer(MOD_ENV);
  const mod = await joinAsModerator(server);
  await moderate(mod, { action: "topic", text: "secret plans" });

  const anon = await getPage(server, "/audit");
  assert.equal(anon.status, 303);
  assert.equal(anon.headers.get("location"), "/login");

  const eve = await loginOk(server, "eve");
  for (const path of ["/audit", "/audit?before=nope", "/api/audit"]) {
    const refused = await getPage(server, path, eve);
    assert.equal(refused.status, 403, path);
    assert.ok(!refused.body.includes("secret plans"), path);
  }
  const page = await getPage(server, "/audit", eve);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(page.body, /Moderators only/);
  const zh = await getPage(server, "/audit", `${eve}; lang=zh-CN`);
  assert.equal(zh.status, 403);
  assert.match(zh.body, /<html lang="zh-CN">/);
  assert.match(zh.body, /仅限管理员/);

  for (const bad of ["?before=nope", "?before=../../x", "?limit=0"]) {
    const refused = await getPage(server, `/audit${bad}`, mod.cookie);
    assert.equal(refused.status, 400, bad);
    assert.match(refused.body, /That link to older entries is not valid/);
    assert.ok(!refused.body.includes("secret plans"), bad);
  }
  const forged = await getPage(server, "/audit", mod.cookie + "x");
  assert.equal(forged.status, 303);
});

Deno.test("GET /audit lists entries newest first, as text, and pages with Older", async () => {
  await using server = await startServer(MOD_ENV);
  const mod = await joinAsModerator(server);
  for (let i = 1; i <= 3; i++) {
    await moderate(mod, { action: "topic", text: `topic ${i}` });
  }
  await moderate(mod, { action: "slow", seconds: 30 });
  await moderate(mod, {
    action: "mute",
    nickname: "bob",
    duration: "1h",
    reason: "<b>spam</b> & more",
  });

  const first = await getPage(server, "/audit?limit=2", mod.cookie);
  assert.equal(first.status, 200, first.body);
  assert.equal(first.headers.get("cache-control"), "no-store");
  const top = rows(first.body);
  assert.equal(top.length, 2);
  const [when, who, action, whom, room, reason, until] = top[0];
  assert.match(when, /\d{1,2}:\d{2}/);
  assert.deepEqual([who, action, whom, room], [
    "Alice",
    "Mute",
    "bob",
    "Lobby",
  ]);
  // The reason is shown as typed, never as markup
  assert.equal(reason, "&lt;b&gt;spam&lt;/b&gt; &amp; more");
  assert.ok(!first.body.includes("<b>spam</b>"));
  assert.match(until, /^1h · /);
  assert.deepEqual(top[1].slice(1, 3), ["Alice", "Slow mode 30 s"]);

  const secondPath = olderLink(first.body);
  assert.ok(secondPath, "an Older link");
  assert.match(
    secondPath,
    /^\/audit\?before=[0-9a-z]{10}-[0-9a-f]{8}&limit=2$/,
  );
  const second = await getPage(server, secondPath, mod.cookie);
  assert.equal(second.status, 200);
  assert.deepEqual(rows(second.body).map((r) => r[2]), [
    "Topic “topic 3”",
    "Topic “topic 2”",
  ]);
  assert.match(second.body, /<a href="\/audit">Newest entries<\/a>/);

  const last = await getPage(server, olderLink(second.body)!, mod.cookie);
  assert.deepEqual(rows(last.body).map((r) => r[2]), ["Topic “topic 1”"]);
  assert.equal(olderLink(last.body), undefined, "no older page");
  assert.match(last.body, /These are the oldest entries/);

  // The same page in Chinese, all five entries at the default size
  const zh = await getPage(server, "/audit", `${mod.cookie}; lang=zh-CN`);
  assert.equal(zh.status, 200);
  assert.match(zh.body, /<th scope="col">时间<\/th>/);
  assert.deepEqual(rows(zh.body).map((r) => r[2].split(" ")[0]), [
    "禁言",
    "慢速模式",
    "话题",
    "话题",
    "话题",
  ]);
  assert.equal(olderLink(zh.body), undefined);
});
