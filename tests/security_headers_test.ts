import assert from "node:assert/strict";
import { createApp } from "../main.ts";
import { HSTS } from "../lib/web/security_headers.ts";
import { getPage, startServer, testConfig } from "./helpers/harness.ts";

Deno.test("no Strict-Transport-Security over plain HTTP", async () => {
  await using server = await startServer();
  for (const path of ["/login", "/static/style.css", "/nope"]) {
    const { headers } = await getPage(server, path);
    assert.equal(headers.get("strict-transport-security"), null, path);
    // The other headers are still there.
    assert.match(
      headers.get("content-security-policy") ?? "",
      /default-src 'self'/,
    );
    assert.equal(headers.get("x-content-type-options"), "nosniff");
  }
});

Deno.test("Strict-Transport-Security over HTTPS", async () => {
  // The app as a TLS listener would call it: the request URL is https://.
  const chat = await createApp(testConfig());
  try {
    const res = await chat.app.request("https://127.0.0.1/login");
    await res.body?.cancel();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("strict-transport-security"), HSTS);
    const plain = await chat.app.request("http://127.0.0.1/login");
    await plain.body?.cancel();
    assert.equal(plain.headers.get("strict-transport-security"), null);
  } finally {
    await chat.close();
  }
});

Deno.test("Strict-Transport-Security behind a TLS proxy with an https PUBLIC_ORIGIN", async () => {
  await using server = await startServer({
    PUBLIC_ORIGIN: "https://127.0.0.1",
  });
  const { headers } = await getPage(server, "/login");
  assert.equal(headers.get("strict-transport-security"), HSTS);
});
