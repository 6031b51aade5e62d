/**
 * Loopback ports for servers a test starts as processes.
 *
 * @module
 */
export { freePort } from "../../bench/ports.ts";

/** Whether anything accepts TCP connections on the loopback `port`. */
export async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
