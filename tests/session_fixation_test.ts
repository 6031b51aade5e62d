import assert from "node:assert/strict";
import {
  getPage,
  login,
  loginOk,
  startServer,
  TestClient,
} from "./helpers/harness.ts";

Deno.test("a planted cookie stops working once the victim logs in with it", async () => {
  await using server = await startServer();
  // The attacker logs in and plants this cookie in the victim's browser.
  const planted = await loginOk(server, "bob");
  const attacker = await server.joinWith(planted);
  const victim = await login(server, "bob", { cookie: planted });
  assert.equal(victim.status, 303);
  assert.ok(victim.cookie);
  assert.notEqual(victim.cookie, planted);
  // The attacker's copy is dead: its socket is closed, pages and sockets refuse it.
  assert.equal((await attacker.closed).code, 4401);
  assert.equal((await getPage(server, "/chat", planted)).status, 303);
  await assert.rejects(TestClient.open(server, planted));
  // The victim's new session works and holds the name.
  assert.equal((await getPage(server, "/chat", victim.cookie)).status, 200);
  const tab = await server.joinWith(victim.cookie);
  await tab.waitFor((e) => e.type === "welcome");
  assert.equal((await login(server, "BOB")).status, 409);
});

Deno.test("every login issues a new session id, even for the same name", async () => {
  await using server = await startServer();
  const first = await loginOk(server, "carol");
  const second = await login(server, "Carol", { cookie: first });
  assert.equal(second.status, 303);
  const third = await login(server, "carol", { cookie: second.cookie });
  assert.equal(third.status, 303);
  assert.equal(new Set([first, second.cookie, third.cookie]).size, 3);
  assert.equal((await getPage(server, "/chat", first)).status, 303);
  assert.equal((await getPage(server, "/chat", second.cookie)).status, 303);
  assert.equal((await getPage(server, "/chat", third.cookie)).status, 200);
  // The name went from session to session and stayed held throughout.
  assert.equal((await login(server, "carol")).status, 409);
});
