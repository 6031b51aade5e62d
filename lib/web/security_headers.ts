/**
 * The security headers of every page and file: a strict CSP, no framing,
 * and Strict-Transport-Security only where the browser came over HTTPS.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { isHttps } from "../auth/session.ts";

const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** hono's default HSTS value: 180 days, subdomains included. */
export const HSTS = "max-age=15552000; includeSubDomains";

/**
 * The headers middleware. `publicOrigin` (PUBLIC_ORIGIN) over https means a
 * TLS proxy in front: the app then sees http:// but the browser used HTTPS.
 */
export function securityHeaders(
  options: { publicOrigin: string | undefined },
): MiddlewareHandler {
  const common = {
    contentSecurityPolicy: CSP,
    referrerPolicy: "same-origin",
    crossOriginEmbedderPolicy: false,
  };
  const overHttps = secureHeaders({ ...common, strictTransportSecurity: HSTS });
  // RFC 6797 8.1: HSTS sent over plain HTTP is meant to be ignored; send none.
  const overHttp = secureHeaders({ ...common, strictTransportSecurity: false });
  const proxiedHttps = options.publicOrigin?.startsWith("https:") ?? false;
  return (c, next) => {
    // The 101 response of an upgrade must pass through untouched.
    if (c.req.path === "/ws" || c.req.path.startsWith("/ws/")) return next();
    return (proxiedHttps || isHttps(c) ? overHttps : overHttp)(c, next);
  };
}
