/**
 * A few seconds of `deno task soak`: every attack of bench/soak_attacks.ts at
 * once against one real server process under a 1024-descriptor limit, while
 * a few honest clients chat. The full 60 s run is `deno task soak`.
 */
import assert from "node:assert/strict";
import {
  exhaustionLogs,
  passed,
  readSoakSettings,
  report,
  runSoak,
} from "../bench/soak.ts";

Deno.test("a short soak: every honest message arrives once and in order, and the server stays up", async () => {
  const settings = {
    ...readSoakSettings({}),
    seconds: 4,
    honest: 5,
    fragmentMiB: 8,
  };
  const result = await runSoak(settings);
  result.exhaustionLogs = await exhaustionLogs(result.log);
  const printout = report(settings, result);
  await Deno.remove(new URL(`../${result.log}`, import.meta.url));
  assert.ok(result.sent >= settings.honest, printout);
  assert.equal(result.delivered, result.expected, printout);
  assert.deepEqual(result.honest, {}, printout);
  assert.equal(result.dropped, 0, printout);
  assert.equal(result.stayedUp, true, printout);
  assert.equal(result.connectionsAtEnd, settings.honest, printout);
  assert.ok(passed(result), printout);
  // The idle wave really ran the server out of descriptors, and nobody
  // passed as the honest "admin".
  assert.ok(result.exhaustionLogs >= 1, printout);
  const lookAlikes = result.attacks.find((a) => a.label.startsWith("5."))!;
  assert.equal(lookAlikes.tally.ACCEPTED, undefined, printout);
  assert.deepEqual(readSoakSettings({}).seconds, 60);
  assert.throws(
    () => readSoakSettings({ SOAK_SECONDS: "x" }),
    /Invalid SOAK_SECONDS "x": expected a positive number/,
  );
});
