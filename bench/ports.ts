/**
 * A free loopback port, for the bench's servers and the tests' (which import
 * it through tests/helpers/ports.ts; the bench never imports from tests/).
 *
 * @module
 */

/** A free loopback TCP port, found by binding port 0 and letting it go. */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
