/**
 * What the web listener answers, decided without sockets: which route a
 * request takes, which `Origin` may open the WebSocket, and the security
 * headers every response carries. Pure, so each rule is tested alone.
 *
 * @module
 */

import { hasToken } from "./http_head.ts";
import { isLoopback } from "../admission.ts";

/** The path of the WebSocket endpoint. */
export const WEBSOCKET_PATH = "/ws";

/**
 * Longest request target accepted. Every route is a short fixed path; a long
 * one can only be a probe, refused before anything looks at it.
 */
export const MAX_URL_BYTES = 2048;

/**
 * Most request headers accepted. A browser sends about twenty; the HTTP
 * layer's own cap (100) is kept, this one is tighter and says why.
 */
export const MAX_REQUEST_HEADERS = 64;

/** One static file of the web client, held in memory. */
export interface Asset {
  /** The file's bytes, read once at start. */
  body: Uint8Array<ArrayBuffer>;
  /** The `content-type` it is served with. */
  contentType: string;
}

/** The parts of a request the rules look at. */
export interface RequestFacts {
  /** The method: it decides what may be served. */
  method: string;
  /** The full request URL, as the HTTP layer built it. */
  url: string;
  /** The request's headers (`host`, `origin`, `upgrade`...). */
  headers: Headers;
}

/** What to do with a request. */
export type Route =
  | { kind: "asset"; asset: Asset; head: boolean }
  | { kind: "upgrade" }
  | {
    kind: "refuse";
    status: number;
    text: string;
    /** Headers the refusal must carry (`allow` on a 405...). */
    headers?: Record<string, string>;
  };

/**
 * Routes a request: a known asset by exact path (never a path built from
 * the URL), the WebSocket endpoint for an upgrade from an allowed origin, or
 * a refusal with its status. `loopbackOnly`: the listener is on a loopback
 * address, and serves only the names {@linkcode hostAllowed} allows.
 */
export function routeRequest(
  request: RequestFacts,
  assets: ReadonlyMap<string, Asset>,
  allowedOrigins: readonly string[],
  loopbackOnly = false,
): Route {
  if (request.url.length > MAX_URL_BYTES) {
    return { kind: "refuse", status: 414, text: "URI too long" };
  }
  let count = 0;
  for (const _ of request.headers.keys()) count++;
  if (count > MAX_REQUEST_HEADERS) {
    return {
      kind: "refuse",
      status: 431,
      text: "Too many request headers",
    };
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return {
      kind: "refuse",
      status: 405,
      text: "Method not allowed",
      headers: { allow: "GET, HEAD" },
    };
  }
  if (hasBody(request.headers)) {
    return { kind: "refuse", status: 413, text: "A GET carries no body" };
  }
  if (
    loopbackOnly &&
    !hostAllowed(request.headers.get("host"), allowedOrigins)
  ) {
    return {
      kind: "refuse",
      status: 403,
      text:
        "This server listens on loopback and serves only localhost and IP addresses; a name it is reached by must be given with --allowed-origin",
    };
  }
  const path = new URL(request.url).pathname;
  if (path === WEBSOCKET_PATH) {
    if (!hasToken(request.headers.get("upgrade"), "websocket")) {
      // A 426 names the protocol to upgrade to (RFC 9110 section 15.5.22).
      return {
        kind: "refuse",
        status: 426,
        text: "This endpoint speaks WebSocket only",
        headers: { upgrade: "websocket", connection: "upgrade" },
      };
    }
    if (!originAllowed(request, allowedOrigins)) {
      return { kind: "refuse", status: 403, text: "Origin not allowed" };
    }
    return { kind: "upgrade" };
  }
  const asset = assets.get(path);
  if (asset === undefined) {
    return { kind: "refuse", status: 404, text: "Not found" };
  }
  return { kind: "asset", asset, head: request.method === "HEAD" };
}

function hasBody(headers: Headers): boolean {
  const length = headers.get("content-length");
  if (length !== null && length.trim() !== "0") return true;
  return headers.has("transfer-encoding");
}

/**
 * An origin in the one form comparisons use (`scheme://host[:port]`, the
 * default port left out, lowercase), or null when it is not an http(s)
 * origin at all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeOrigin } from "./http_rules.ts";
 * assert.equal(normalizeOrigin("HTTP://Example.com:80"), "http://example.com");
 * assert.equal(normalizeOrigin("null"), null);
 * ```
 */
export function normalizeOrigin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  return url.origin;
}

/**
 * Whether a listener on a loopback address may serve a request whose `Host`
 * is `host`. Such a listener is reachable only from its own machine, so a
 * request naming some other host there comes from a page whose name was
 * made to resolve to 127.0.0.1 after it loaded (DNS rebinding): its
 * `Origin` and `Host` agree, so the origin check passes, and only the name
 * gives it away. Served: no `Host` (HTTP/1.0), an IP address (there is no
 * name to rebind), `localhost` and names under it (which browsers resolve
 * to loopback themselves, RFC 6761), and the hosts of `allowed` origins.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostAllowed } from "./http_rules.ts";
 * assert.equal(hostAllowed("127.0.0.1:7080", []), true);
 * assert.equal(hostAllowed("localhost:7080", []), true);
 * assert.equal(hostAllowed("attacker.example:7080", []), false);
 * assert.equal(
 *   hostAllowed("chat.example", ["https://chat.example"]),
 *   true,
 * );
 * ```
 */
export function hostAllowed(
  host: string | null,
  allowed: readonly string[],
): boolean {
  if (host === null) return true;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  if (name.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(name)) return true;
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  return allowed.some((origin) => {
    try {
      return new URL(origin).hostname === name;
    } catch {
      return false;
    }
  });
}

/**
 * Whether a web listener bound to `hostname` is on loopback only, so that
 * {@linkcode hostAllowed} applies to its requests.
 */
export function listensOnLoopback(hostname: string): boolean {
  return hostname === "localhost" ||
    isLoopback(hostname.replace(/^\[|\]$/g, ""));
}

/**
 * Whether a WebSocket handshake may proceed. A browser always sends
 * `Origin`; it must be the page's own origin (the scheme the request came
 * in on, and its `Host`), or one of `allowed`, compared by scheme, host and
 * port together. A request without `Origin` is not from a browser page (a
 * bot, a test): no page can be riding on it, so it passes, as the other
 * transports do.
 */
export function originAllowed(
  request: RequestFacts,
  allowed: readonly string[],
): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  const given = normalizeOrigin(origin);
  if (given === null) return false;
  const host = request.headers.get("host");
  if (host !== null) {
    const scheme = new URL(request.url).protocol;
    if (normalizeOrigin(`${scheme}//${host}`) === given) return true;
  }
  return allowed.some((entry) => normalizeOrigin(entry) === given);
}

/**
 * The headers on every response. The page has no inline script or style and
 * loads nothing from elsewhere, so the policy allows only its own origin;
 * `connect-src 'self'` covers the WebSocket on the same port. The page may
 * not be framed (clickjacking), sends no referrer, and the browser may not
 * guess content types.
 */
export function securityHeaders(tls: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    "content-security-policy": [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      "img-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cache-control": "no-cache",
  };
  if (tls) headers["strict-transport-security"] = "max-age=31536000";
  return headers;
}

/**
 * The host part of a URL a browser can open for a listen address: the
 * wildcard addresses become loopback, IPv6 gets its brackets.
 */
export function browsableHost(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  if (hostname === "::" || hostname === "[::]") return "[::1]";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
