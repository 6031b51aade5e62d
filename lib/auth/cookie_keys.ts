/**
 * HMAC-SHA256 signing for cookies with one imported CryptoKey per secret.
 * The signature is hono/cookie's: standard base64 with padding, so cookies
 * signed here and by setSignedCookie verify either way.
 *
 * @module
 */

const ALGORITHM = { name: "HMAC", hash: "SHA-256" } as const;
/** Secrets come from config (a current one plus a few rotated out). */
const MAX_KEYS = 16;
const keys = new Map<string, Promise<CryptoKey>>();
const encoder = new TextEncoder();

function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (key === undefined) {
    // A caller cycling through secrets must not grow this without bound.
    if (keys.size >= MAX_KEYS) keys.clear();
    key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      ALGORITHM,
      false,
      ["sign", "verify"],
    );
    // A failed import is not remembered, so the next call tries again.
    key.catch(() => keys.delete(secret));
    keys.set(secret, key);
  }
  return key;
}

/** The base64 HMAC-SHA256 of `value` under `secret`, as hono/cookie writes it. */
export async function signValue(
  value: string,
  secret: string,
): Promise<string> {
  const mac = await crypto.subtle.sign(
    ALGORITHM.name,
    await keyFor(secret),
    encoder.encode(value),
  );
  return btoa(String.fromCharCode(...new Uint8Array(mac)));
}

/** Whether `signature` (base64) is the HMAC of `value` under `secret`; false for malformed base64. */
export async function verifyValue(
  value: string,
  options: { signature: string; secret: string },
): Promise<boolean> {
  let binary: string;
  try {
    binary = atob(options.signature);
  } catch {
    return false;
  }
  const mac = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  // verify compares in constant time, unlike comparing strings.
  return await crypto.subtle.verify(
    ALGORITHM.name,
    await keyFor(options.secret),
    mac,
    encoder.encode(value),
  );
}
