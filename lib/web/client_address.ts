/**
 * Who a request comes from. Behind a reverse proxy every request arrives
 * from the proxy, so the client's address is read from X-Forwarded-For, but
 * only the hops named in TRUSTED_PROXIES may write it: anyone else could
 * claim any address and slip past every per-address limit.
 *
 * proxy-addr (Express's own) does the walk: it is well kept, handles IPv4,
 * IPv6, IPv4-mapped IPv6 and CIDR ranges, and names the usual private
 * ranges (`loopback`, `linklocal`, `uniquelocal`).
 *
 * @module
 */
import proxyAddr from "proxy-addr";

/** Resolves the client's address from the peer's address and X-Forwarded-For. */
export type AddressResolver = (
  remote: string,
  forwardedFor: string | undefined,
) => string;

/** Why `entries` is not a valid TRUSTED_PROXIES list, or undefined when it is. */
export function checkTrustedProxies(entries: string[]): string | undefined {
  try {
    proxyAddr.compile(entries);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Builds the resolver for a checked TRUSTED_PROXIES list. */
export function createAddressResolver(trusted: string[]): AddressResolver {
  // No proxy trusted: the peer is the client, whatever the header says.
  if (trusted.length === 0) return (remote) => remote;
  const trust = proxyAddr.compile(trusted);
  return (remote, forwardedFor) => {
    const headers: Record<string, string> = {};
    if (forwardedFor !== undefined) headers["x-forwarded-for"] = forwardedFor;
    // proxy-addr reads a Node request; these are the two fields it uses.
    const request = { socket: { remoteAddress: remote }, headers };
    return proxyAddr(request as never, trust);
  };
}
