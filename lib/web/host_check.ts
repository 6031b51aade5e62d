/**
 * The Host check that stops DNS rebinding: a page on a name its author
 * controls can point that name at this server, but the browser then sends
 * that name in `Host`, and such requests get 421.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";

/** Which hosts {@linkcode hostCheck} lets through. */
export interface HostCheckOptions {
  /** PUBLIC_ORIGIN: when set, only its host name passes. */
  publicOrigin: string | undefined;
  /** The address the server listens on (HOST). */
  listenHostname: string;
  /** The platform delivers only its own names (Deno Deploy): without a public origin, pass all. */
  routedByHost?: boolean;
}

/** The host name of a `Host` header, as a URL parser spells it, or undefined. */
function hostnameOf(host: string): string | undefined {
  try {
    // The URL parser folds case, IDNA and IPv4 spellings such as 0x7f.1.
    return new URL(`http://${host}`).hostname.replace(/\.$/, "");
  } catch {
    return undefined;
  }
}

const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

function isIpLiteral(hostname: string): boolean {
  return IPV4.test(hostname) || hostname.startsWith("[");
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname.endsWith(".localhost") ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === "[::1]";
}

/**
 * Whether a request for `hostname` may be served: the public origin's host
 * if one is set, else the listening address (listening on 0.0.0.0 or ::,
 * any address literal). Loopback names always pass: a rebound page sends
 * its own name, never these, and health checks in the container use them.
 */
export function hostAllowed(
  hostname: string,
  options: HostCheckOptions,
): boolean {
  if (isLoopback(hostname)) return true;
  if (options.publicOrigin) {
    return hostname === new URL(options.publicOrigin).hostname;
  }
  if (options.routedByHost) return true;
  const listen = options.listenHostname.includes(":") &&
      !options.listenHostname.startsWith("[")
    ? `[${options.listenHostname}]`
    : options.listenHostname;
  if (listen === "0.0.0.0" || listen === "[::]") return isIpLiteral(hostname);
  return hostname === hostnameOf(listen);
}

/** Answers 421 to a request whose `Host` is not this chat's. */
export function hostCheck(options: HostCheckOptions): MiddlewareHandler {
  return async (c, next) => {
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    const hostname = hostnameOf(host);
    if (hostname !== undefined && hostAllowed(hostname, options)) {
      return await next();
    }
    const shown = JSON.stringify(host.slice(0, 100));
    const where = options.publicOrigin
      ? `this chat answers at ${options.publicOrigin}`
      : "without PUBLIC_ORIGIN this chat answers only on loopback and at its listening address";
    return c.text(`Unknown host ${shown}: ${where}`, 421);
  };
}
