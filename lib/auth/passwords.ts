/**
 * Moderator passwords: PBKDF2-SHA256 through Web Crypto, a random 16-byte
 * salt, and the cost stored in the hash itself, so raising it later never
 * breaks an existing hash. Only the hash is ever configured or kept.
 *
 * @module
 */

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256; about a quarter second on one core. */
export const DEFAULT_ITERATIONS = 600_000;
/** Lowest cost a configured hash may name (tests use it to stay fast). */
export const MIN_ITERATIONS = 1_000;
/** Highest cost accepted, so a typo cannot stall every login. */
export const MAX_ITERATIONS = 10_000_000;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const PREFIX = "pbkdf2-sha256";

/** A parsed `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`. */
export interface PasswordHash {
  iterations: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

/** The outcome of {@linkcode parsePasswordHash}; the why never repeats the hash. */
export type HashParse =
  | { ok: true; value: PasswordHash }
  | { ok: false; why: string };

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  try {
    return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** Parses a stored hash; a malformed one says what is wrong without echoing it. */
export function parsePasswordHash(text: string): HashParse {
  const parts = text.split("$");
  if (parts.length !== 4 || parts[0] !== PREFIX) {
    return {
      ok: false,
      why:
        `expected ${PREFIX}$<iterations>$<salt>$<hash> from deno task hash-password`,
    };
  }
  const [, rounds, saltText, hashText] = parts;
  const iterations = /^\d{1,9}$/.test(rounds) ? Number(rounds) : NaN;
  if (
    !(iterations >= MIN_ITERATIONS && iterations <= MAX_ITERATIONS)
  ) {
    return {
      ok: false,
      why:
        `the iteration count must be between ${MIN_ITERATIONS} and ${MAX_ITERATIONS}`,
    };
  }
  const salt = fromBase64(saltText);
  const hash = fromBase64(hashText);
  if (!salt || salt.length < 8 || !hash || hash.length !== HASH_BYTES) {
    return {
      ok: false,
      why: `the salt or the hash is not valid base64 of the right length`,
    };
  }
  return { ok: true, value: { iterations, salt, hash } };
}

async function derive(
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password.normalize("NFC")),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations },
    key,
    HASH_BYTES * 8,
  );
  return new Uint8Array(bits);
}

/** Hashes `password` with a fresh random salt, as `pbkdf2-sha256$<iterations>$<salt>$<hash>`. */
export async function hashPassword(
  password: string,
  options: { iterations?: number } = {},
): Promise<string> {
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return `${PREFIX}$${iterations}$${toBase64(salt)}$${toBase64(hash)}`;
}

/** Whether `password` matches `stored`; the comparison takes the same time wherever the bytes differ. */
export async function verifyPassword(
  password: string,
  stored: PasswordHash,
): Promise<boolean> {
  const derived = await derive(password, stored.salt, stored.iterations);
  let diff = derived.length ^ stored.hash.length;
  for (let i = 0; i < stored.hash.length; i++) {
    diff |= (derived[i] ?? 0) ^ stored.hash[i];
  }
  return diff === 0;
}
