import assert from "node:assert/strict";
import { loadConfig } from "../lib/app/config.ts";
import { hostAllowed } from "../lib/web/host_check.ts";
import { loginOk, SECRET, startServer } from "./helpers/harness.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends one HTTP/1.1 request by hand, so the Host header is ours to choose. */
async function rawRequest(
  port: number,
  options: {
    host: string;
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  },
): Promise<{ status: number; head: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const body = options.body ?? "";
    const length = options.body === undefined
      ? {}
      : { "Content-Length": String(encoder.encode(body).length) };
    const headers = { Connection: "close", ...length, ...options.headers };
    const lines = [
      `${options.method ?? "GET"} ${options.path ?? "/login"} HTTP/1.1`,
      `Host: ${options.host}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    await conn.write(encoder.encode(`${lines.join("\r\n")}\r\n\r\n${body}`));
    let text = "";
    const buf = new Uint8Array(16384);
    while (!text.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
    }
    const head = text.split("\r\n\r\n")[0];
    return { status: Number(head.split(" ")[1]), head };
  } finally {
    conn.close();
  }
}

const LOGIN_FORM = {
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: "nickname=mallory",
};

const UPGRADE = {
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version": "13",
};

Deno.test("a DNS-rebinding request (Host and Origin evil.example) gets 421 everywhere", async () => {
  await using server = await startServer();
  const evil = { host: "evil.example", origin: "http://evil.example" };
  const loginRes = await rawRequest(server.port, {
    host: evil.host,
    ...LOGIN_FORM,
    headers: { ...LOGIN_FORM.headers, Origin: evil.origin },
  });
  assert.equal(loginRes.status, 421);
  assert.doesNotMatch(loginRes.head, /set-cookie/i);
  for (const path of ["/", "/login", "/chat", "/healthz", "/nope"]) {
    const res = await rawRequest(server.port, { host: evil.host, path });
    assert.equal(res.status, 421, path);
  }
  // A socket too, even with a valid cookie.
  const cookie = await loginOk(server, "alice");
  // The page's own origin under the rebound name passes the Origin check.
  const ws = await rawRequest(server.port, {
    host: `${evil.host}:${server.port}`,
    path: "/ws",
    headers: {
      ...UPGRADE,
      Cookie: cookie,
      Origin: `${evil.origin}:${server.port}`,
    },
  });
  assert.equal(ws.status, 421);
});

Deno.test("without PUBLIC_ORIGIN loopback names and the listening address pass", async () => {
  await using server = await startServer();
  for (
    const host of [
      `127.0.0.1:${server.port}`,
      `localhost:${server.port}`,
      "LOCALHOST",
      `127.1.2.3:${server.port}`,
      `[::1]:${server.port}`,
      "chat.localhost",
    ]
  ) {
    assert.equal((await rawRequest(server.port, { host })).status, 200, host);
  }
  const login = await rawRequest(server.port, {
    host: `localhost:${server.port}`,
    ...LOGIN_FORM,
    headers: {
      ...LOGIN_FORM.headers,
      Origin: `http://localhost:${server.port}`,
    },
  });
  assert.equal(login.status, 303);
  for (
    const host of ["10.0.0.5", "chat.example.com", "localhost.evil.example"]
  ) {
    assert.equal((await rawRequest(server.port, { host })).status, 421, host);
  }
});

Deno.test("with PUBLIC_ORIGIN only its host and loopback pass, and it may log in", async () => {
  await using server = await startServer({
    PUBLIC_ORIGIN: "https://chat.example.com",
  });
  const ok = await rawRequest(server.port, {
    host: "chat.example.com",
    ...LOGIN_FORM,
    headers: { ...LOGIN_FORM.headers, Origin: "https://chat.example.com" },
  });
  assert.equal(ok.status, 303);
  assert.match(ok.head, /set-cookie/i);
  for (
    const host of ["evil.example", "10.0.0.5", `192.168.1.20:${server.port}`]
  ) {
    const res = await rawRequest(server.port, { host });
    assert.equal(res.status, 421, host);
  }
  const ws = await rawRequest(server.port, {
    host: "chat.example.com.evil.example",
    path: "/ws",
    headers: { ...UPGRADE, Origin: "https://chat.example.com" },
  });
  assert.equal(ws.status, 421);
  // The container's health check asks on loopback.
  const health = await rawRequest(server.port, {
    host: `127.0.0.1:${server.port}`,
    path: "/healthz",
  });
  assert.equal(health.status, 200);
});

Deno.test("hostAllowed(): a wildcard listener passes address literals, never names", () => {
  const any = { publicOrigin: undefined, listenHostname: "0.0.0.0" };
  assert.equal(hostAllowed("192.168.1.20", any), true);
  assert.equal(hostAllowed("[fe80::1]", any), true);
  assert.equal(hostAllowed("evil.example", any), false);
  const lan = { publicOrigin: undefined, listenHostname: "192.168.1.20" };
  assert.equal(hostAllowed("192.168.1.20", lan), true);
  assert.equal(hostAllowed("192.168.1.21", lan), false);
  const v6 = { publicOrigin: undefined, listenHostname: "fd00::2" };
  assert.equal(hostAllowed("[fd00::2]", v6), true);
  // Deno Deploy delivers only the app's own names; PUBLIC_ORIGIN still narrows.
  const deploy = { ...any, routedByHost: true };
  assert.equal(hostAllowed("chat.deno.dev", deploy), true);
  const named = { ...deploy, publicOrigin: "https://chat.example.org" };
  assert.equal(hostAllowed("chat.deno.dev", named), false);
  assert.equal(hostAllowed("chat.example.org", named), true);
});

Deno.test("loadConfig() reads PUBLIC_ORIGIN as one origin that may also log in", () => {
  const config = loadConfig({
    COOKIE_SECRET: SECRET,
    PUBLIC_ORIGIN: "https://Chat.Example.com/",
  });
  assert.equal(config.session.publicOrigin, "https://chat.example.com");
  assert.deepEqual(config.session.allowedOrigins, ["https://chat.example.com"]);
  assert.throws(
    () => loadConfig({ PUBLIC_ORIGIN: "chat.example.com" }),
    /Invalid PUBLIC_ORIGIN "chat.example.com": expected an origin like https:\/\/chat.example.com/,
  );
  assert.throws(
    () => loadConfig({ PUBLIC_ORIGIN: "https://a.example, https://b.example" }),
    /Invalid PUBLIC_ORIGIN "https:\/\/a.example, https:\/\/b.example": expected one origin/,
  );
});
