/**
 * Message text that is not text a person typed is refused with bad_request
 * and never stored or broadcast: NUL and the other C0 controls (tab and
 * newline aside) and lone surrogates. Through real sockets.
 */
import assert from "node:assert/strict";
import { barrier, HIGH_RATE, startServer, texts } from "./helpers/harness.ts";

Deno.test("message text with NUL, C0 controls or lone surrogates is refused with bad_request and not posted", async () => {
  await using server = await startServer(HIGH_RATE);
  const sender = await server.join("typist");
  const watcher = await server.join("watcher");
  const refused = [
    "nul\u0000here",
    "bell\u0007",
    "escape \u001b[31mred",
    "carriage\rreturn",
    "vertical\u000btab",
    "\u001f",
    "lone high \ud800",
    "lone low \udc00 here",
    "swapped \udc00\ud800",
  ];
  for (const text of refused) {
    const before = sender.events.length;
    // JSON.stringify escapes lone surrogates, so the frame is valid UTF-8.
    sender.send({ type: "message", text });
    const err = await sender.waitFor((e) => e.type === "error", {
      from: before,
    });
    assert.equal(err.code, "bad_request", JSON.stringify(text));
    assert.match(err.message, /^Invalid message text: /);
  }
  const allowed = ["tab\there", "two\nlines", "emoji 😀 pair", "del \u007f"];
  for (const text of allowed) sender.send({ type: "message", text });
  for (const text of allowed) await watcher.waitForText(text);
  await barrier(watcher);
  assert.deepEqual(texts(watcher.events, "typist"), allowed);
});
