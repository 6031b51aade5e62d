/**
 * What `/readyz` checks: that KV answers a read, and that the bus reaches
 * the other instances. Liveness (`/healthz`) checks neither.
 *
 * @module
 */
import type { Bus } from "../cluster/bus.ts";
import { LOBBY } from "../chat/protocol.ts";
import { KEYS } from "../storage/keys.ts";

/** Which dependencies answer now. */
export interface Readiness {
  kv: boolean;
  bus: boolean;
}

/** How long a KV read may take before KV counts as down. */
const KV_TIMEOUT_MS = 2000;

/** Checks KV with one strong read (the lobby's head) and asks the bus whether it is up. */
export async function checkReadiness(
  deps: { kv: Deno.Kv; bus: Bus },
): Promise<Readiness> {
  return { kv: await kvAnswers(deps.kv), bus: deps.bus.isUp() };
}

async function kvAnswers(kv: Deno.Kv): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), KV_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      kv.get(KEYS.head(LOBBY)).then(() => true, () => false),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
