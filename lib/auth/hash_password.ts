/**
 * `deno task hash-password`: reads a password without echoing it (or one
 * line from a pipe) and prints its hash for MODERATORS.
 *
 * @module
 */
import { DEFAULT_ITERATIONS, hashPassword } from "./passwords.ts";

const ENTER = new Set([10, 13]);
const CTRL_C = 3;
const BACKSPACE = new Set([8, 127]);

/** Reads one line from stdin; on a terminal, raw mode keeps the typed characters off the screen. */
export async function readSecretLine(prompt: string): Promise<string> {
  const tty = Deno.stdin.isTerminal();
  if (tty) {
    await Deno.stderr.write(new TextEncoder().encode(prompt));
    Deno.stdin.setRaw(true);
  }
  const bytes: number[] = [];
  const buffer = new Uint8Array(256);
  try {
    outer: for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      for (const b of buffer.subarray(0, n)) {
        if (ENTER.has(b)) break outer;
        if (tty && b === CTRL_C) throw new Error("Cancelled");
        if (tty && BACKSPACE.has(b)) {
          // One character, however many UTF-8 bytes it took.
          while ((bytes.at(-1)! & 0xc0) === 0x80) bytes.pop();
          bytes.pop();
          continue;
        }
        bytes.push(b);
      }
    }
  } finally {
    if (tty) {
      Deno.stdin.setRaw(false);
      await Deno.stderr.write(new TextEncoder().encode("\n"));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

async function main(): Promise<void> {
  const password = await readSecretLine("Password: ");
  if (password.length === 0) {
    console.error("Empty password: nothing was hashed");
    Deno.exit(1);
  }
  const hash = await hashPassword(password, { iterations: DEFAULT_ITERATIONS });
  console.log(hash);
}

if (import.meta.main) await main();
