/**
 * The little of HTTP/1.1 the web listener speaks, as pure functions: where a
 * request head ends, what it says, how long its body is and whether the
 * connection may carry another request after it (RFC 9112 sections 6.3 and
 * 9.3), the status line and headers of a response, and the WebSocket
 * handshake's accept key. No request is served a body's meaning: the page
 * is three static files and a socket, so a body is only ever skipped.
 *
 * @module
 */

/**
 * Longest request head accepted. A browser's GET with its usual headers is
 * under 2 KiB; anything past this is refused with 431 before it is parsed.
 */
export const MAX_HEAD_BYTES = 16 * 1024;

/** A parsed request head. */
export interface RequestHead {
  /** The method as sent (`GET`, `HEAD`...). */
  method: string;
  /** The request target as sent (origin form: a path and query). */
  target: string;
  /** `HTTP/1.0` or `HTTP/1.1`: a WebSocket handshake needs the latter. */
  version: string;
  /** The header lines, by name. */
  headers: Headers;
}

/** A head that cannot be served, with the status that says why. */
export interface HeadError {
  /** The HTTP status to answer with. */
  status: number;
  /** What was wrong, in words, for the reply's body. */
  text: string;
  /** Headers the refusal must carry (`allow`, `sec-websocket-version`...). */
  headers?: Record<string, string>;
}

const LF = 0x0a;
const CR = 0x0d;

/** Where a request head ends: its text's length and the first byte after it. */
export interface HeadEnd {
  /** Bytes of the head before the blank line (its last line's end excluded). */
  text: number;
  /** The first byte after the blank line: the body, or a WebSocket's frames. */
  next: number;
}

/**
 * Where the blank line ending a request head in `bytes` is, or null when it
 * has not all arrived. Lines may end in a bare LF as well as CRLF, as RFC
 * 9112 lets a server accept: someone typing a request into `nc` sends bare
 * LFs, and would otherwise wait out the head timeout for nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { headEnd } from "./http_head.ts";
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\nrest");
 * assert.deepEqual(headEnd(bytes), { text: 14, next: 18 });
 * const typed = new TextEncoder().encode("GET / HTTP/1.1\n\n");
 * assert.deepEqual(headEnd(typed), { text: 14, next: 16 });
 * ```
 */
export function headEnd(bytes: Uint8Array): HeadEnd | null {
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) {
    // The line ending at i is followed by an empty line: LF, or CR LF.
    const blank = bytes[i + 1] === LF
      ? i + 2
      : bytes[i + 1] === CR && bytes[i + 2] === LF
      ? i + 3
      : -1;
    if (blank !== -1) {
      return { text: i > 0 && bytes[i - 1] === CR ? i - 1 : i, next: blank };
    }
  }
  return null;
}

/**
 * Whether `bytes` start like a TLS handshake record (content type 22,
 * version 3.x): a browser sent to `https://` at a plain HTTP port. It will
 * never send a blank line, so without this it waits out the head timeout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startsLikeTls } from "./http_head.ts";
 * assert.equal(startsLikeTls(new Uint8Array([0x16, 0x03, 0x01, 0x02])), true);
 * assert.equal(startsLikeTls(new TextEncoder().encode("GET / HTTP/1.1")), false);
 * ```
 */
export function startsLikeTls(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0x16 && bytes[1] === 0x03 &&
    bytes[2]! <= 0x04;
}

/**
 * Whether `bytes` start with a whole line that is no HTTP request line
 * (`METHOD TARGET HTTP/x.y`): a nickname or a JSON hello typed at this port
 * with nc or telnet by someone who meant the chat's. It will never send the
 * blank line that ends a request head, so without this it waits out the
 * head timeout in silence and then gets a 408 in HTTP.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startsLikeChat } from "./http_head.ts";
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * assert.equal(startsLikeChat(bytes("alice\r\n")), true);
 * assert.equal(startsLikeChat(bytes("GET / HTTP/1.1\r\n")), false);
 * assert.equal(startsLikeChat(bytes("alice")), false); // not a whole line yet
 * ```
 */
export function startsLikeChat(bytes: Uint8Array): boolean {
  const newline = bytes.indexOf(0x0a);
  if (newline === -1) return false;
  const line = new TextDecoder().decode(bytes.subarray(0, newline));
  return !/^\S+ \S+ HTTP\/\S+\r?$/.test(line);
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A `Host` value as RFC 9110 section 7.2 has it: a host (a name, an IPv4
 * address or a bracketed IPv6 one; empty when the target has none) and
 * perhaps a port.
 */
const HOST_VALUE =
  /^(?:\[[0-9A-Za-z:._~!$&'()*+,;=-]+\]|(?:[0-9A-Za-z._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

/**
 * Why a head's `Host` cannot be served (RFC 9112 section 3.2: a 400 for an
 * HTTP/1.1 request without one, and for any with more than one or one that
 * is no host), or null when it can. HTTP/1.0 had no `Host`.
 */
function hostProblem(
  version: string,
  hosts: readonly string[],
): HeadError | null {
  if (hosts.length === 0) {
    return version === "HTTP/1.1"
      ? { status: 400, text: "An HTTP/1.1 request needs a Host header" }
      : null;
  }
  if (hosts.length > 1) return { status: 400, text: "Host must be sent once" };
  if (!HOST_VALUE.test(hosts[0]!)) {
    return { status: 400, text: "Host must be a host and perhaps a port" };
  }
  return null;
}

/**
 * Parses a request head (the text before the blank line). A malformed
 * head, or one whose `Host` is missing (HTTP/1.1), repeated or no host, is
 * a 400; an HTTP version other than 1.0 and 1.1 a 505.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRequestHead } from "./http_head.ts";
 * const head = parseRequestHead("GET /ws HTTP/1.1\r\nHost: a\r\nX: 1");
 * assert.ok("method" in head);
 * assert.equal(head.target, "/ws");
 * assert.equal(head.version, "HTTP/1.1");
 * assert.equal(head.headers.get("host"), "a");
 * ```
 */
export function parseRequestHead(text: string): RequestHead | HeadError {
  const lines = text.split(/\r?\n/);
  const parts = lines[0]!.split(" ");
  if (parts.length !== 3 || !TOKEN.test(parts[0]!) || parts[1] === "") {
    return { status: 400, text: "Bad request line" };
  }
  const [method, target, version] = parts as [string, string, string];
  if (!/^HTTP\/1\.[01]$/.test(version)) {
    return { status: 505, text: "HTTP/1.0 and HTTP/1.1 only" };
  }
  const headers = new Headers();
  // Each Host line apart: the Headers joins repeats into one value.
  const hosts: string[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) {
      return { status: 400, text: "Bad header line" };
    }
    const value = line.slice(colon + 1).trim();
    try {
      headers.append(name, value);
    } catch {
      return { status: 400, text: "Bad header value" };
    }
    if (name.toLowerCase() === "host") hosts.push(value);
  }
  return hostProblem(version, hosts) ?? { method, target, version, headers };
}

/**
 * How a request's body is delimited (RFC 9112 section 6.3): a length (0
 * without `Content-Length` or `Transfer-Encoding`), or chunked, whose end
 * is known only by reading it all. Framing that cannot be trusted is a
 * {@linkcode HeadError} (400), after which the connection must close: the
 * server cannot tell where the next request would start.
 */
export type RequestBody = { length: number } | { chunked: true } | HeadError;

/**
 * The body framing of a request head. `Transfer-Encoding` in an HTTP/1.0
 * request, together with `Content-Length`, or not ending in `chunked` is
 * refused (section 6.1 and 6.3 rules 3 and 4), as is a `Content-Length`
 * that is not digits, or lists different values (a list of one value
 * repeated, which proxies make of repeated headers, is that value).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRequestHead, requestBody } from "./http_head.ts";
 * const head = (lines: string) =>
 *   parseRequestHead(`POST / HTTP/1.1\r\nHost: a\r\n${lines}`) as never;
 * assert.deepEqual(requestBody(head("Content-Length: 5")), { length: 5 });
 * assert.deepEqual(requestBody(head("Content-Length: 5, 5")), { length: 5 });
 * assert.equal((requestBody(head("Content-Length: 5, 6")) as never)["status"], 400);
 * assert.deepEqual(requestBody(head("Transfer-Encoding: chunked")), { chunked: true });
 * ```
 */
export function requestBody(head: RequestHead): RequestBody {
  const coding = head.headers.get("transfer-encoding");
  const length = head.headers.get("content-length");
  if (coding !== null) {
    if (head.version !== "HTTP/1.1") {
      return { status: 400, text: "Transfer-Encoding is not HTTP/1.0" };
    }
    if (length !== null) {
      return {
        status: 400,
        text: "Content-Length and Transfer-Encoding together",
      };
    }
    const last = coding.split(",").at(-1)!.trim().toLowerCase();
    if (last !== "chunked") {
      return { status: 400, text: "Transfer-Encoding must end in chunked" };
    }
    return { chunked: true };
  }
  if (length === null) return { length: 0 };
  const values = length.split(",").map((value) => value.trim());
  const bytes = Number(values[0]);
  if (
    !values.every((value) => /^[0-9]+$/.test(value) && value === values[0]) ||
    !Number.isSafeInteger(bytes)
  ) {
    return { status: 400, text: "Bad Content-Length" };
  }
  return { length: bytes };
}

/**
 * Whether the client lets the connection carry another request after this
 * one (RFC 9112 section 9.3): never with `Connection: close`; HTTP/1.1 by
 * default; HTTP/1.0 only when it asks with `Connection: keep-alive`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientKeepsAlive, parseRequestHead } from "./http_head.ts";
 * const head = (text: string) => parseRequestHead(text) as never;
 * assert.equal(clientKeepsAlive(head("GET / HTTP/1.1\r\nHost: a")), true);
 * assert.equal(clientKeepsAlive(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: close")), false);
 * assert.equal(clientKeepsAlive(head("GET / HTTP/1.0")), false);
 * assert.equal(clientKeepsAlive(head("GET / HTTP/1.0\r\nConnection: Keep-Alive")), true);
 * ```
 */
export function clientKeepsAlive(head: RequestHead): boolean {
  const connection = head.headers.get("connection");
  if (hasToken(connection, "close")) return false;
  return head.version === "HTTP/1.1" || hasToken(connection, "keep-alive");
}

/**
 * How many bytes at the start of `bytes` are empty lines (CRLF or LF),
 * which RFC 9112 section 2.2 asks a server to skip before a request line:
 * some clients send one after a body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { leadingBlankLines } from "./http_head.ts";
 * assert.equal(leadingBlankLines(new TextEncoder().encode("\r\n\nGET")), 3);
 * assert.equal(leadingBlankLines(new TextEncoder().encode("\r")), 0);
 * ```
 */
export function leadingBlankLines(bytes: Uint8Array): number {
  let at = 0;
  for (;;) {
    if (bytes[at] === LF) at += 1;
    else if (bytes[at] === CR && bytes[at + 1] === LF) at += 2;
    else return at;
  }
}

/** Reason phrases of the statuses the listener sends. */
const REASONS: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  414: "URI Too Long",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/**
 * A response head: status line, headers, blank line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { responseHead } from "./http_head.ts";
 * assert.equal(
 *   responseHead(404, { "content-length": "0" }),
 *   "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
 * );
 * ```
 */
export function responseHead(
  status: number,
  headers: Record<string, string>,
): string {
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/** The GUID RFC 6455 section 1.3 appends to the key. */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * Whether a header's comma-separated list holds `token`, in any case:
 * `Connection: keep-alive, Upgrade` holds `upgrade`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasToken } from "./http_head.ts";
 * assert.equal(hasToken("keep-alive, Upgrade", "upgrade"), true);
 * assert.equal(hasToken("upgrade-insecure", "upgrade"), false);
 * assert.equal(hasToken(null, "upgrade"), false);
 * ```
 */
export function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  const wanted = token.toLowerCase();
  return value.split(",").some((part) => part.trim().toLowerCase() === wanted);
}

/**
 * The base64 of 16 bytes: 21 free characters, then one that carries only two
 * bits (so its four low bits are zero: A, Q, g or w), then the padding.
 */
const WEBSOCKET_KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/**
 * Why a WebSocket handshake (RFC 6455 section 4.2.1) cannot be accepted, or
 * null when it can: an HTTP/1.1 GET with one `Host`, `Upgrade: websocket`,
 * `Connection: Upgrade`, `Sec-WebSocket-Version: 13` and a key of 16 bytes
 * in base64. Another version is answered with 426 and the version the
 * server speaks (section 4.4), so a client can retry with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { handshakeProblem, parseRequestHead } from "./http_head.ts";
 * const lines = [
 *   "Host: a",
 *   "Upgrade: websocket",
 *   "Connection: Upgrade",
 *   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
 *   "Sec-WebSocket-Version: 13",
 * ];
 * const good = parseRequestHead(["GET /ws HTTP/1.1", ...lines].join("\r\n"));
 * const old = parseRequestHead(["GET /ws HTTP/1.0", ...lines].join("\r\n"));
 * assert.ok("method" in good && "method" in old);
 * assert.equal(handshakeProblem(good), null);
 * assert.equal(handshakeProblem(old)?.status, 400);
 * ```
 */
export function handshakeProblem(head: RequestHead): HeadError | null {
  const { headers } = head;
  if (head.version !== "HTTP/1.1") {
    return { status: 400, text: "A WebSocket handshake needs HTTP/1.1" };
  }
  if (head.method !== "GET") {
    return {
      status: 405,
      text: "A WebSocket handshake is a GET",
      headers: { allow: "GET" },
    };
  }
  const host = headers.get("host");
  if (host === null || host === "" || host.includes(",")) {
    return { status: 400, text: "A WebSocket handshake needs one Host" };
  }
  if (!hasToken(headers.get("upgrade"), "websocket")) {
    return { status: 400, text: "Upgrade must be websocket" };
  }
  if (!hasToken(headers.get("connection"), "upgrade")) {
    return { status: 400, text: "Connection must include Upgrade" };
  }
  if (headers.get("sec-websocket-version") !== "13") {
    return {
      status: 426,
      text: "Sec-WebSocket-Version must be 13",
      headers: {
        "sec-websocket-version": "13",
        upgrade: "websocket",
        connection: "upgrade",
      },
    };
  }
  if (!WEBSOCKET_KEY.test(headers.get("sec-websocket-key") ?? "")) {
    return {
      status: 400,
      text: "Sec-WebSocket-Key must be 16 bytes in base64",
    };
  }
  return null;
}

/**
 * The `Sec-WebSocket-Accept` value for a handshake's key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { websocketAccept } from "./http_head.ts";
 * // The example of RFC 6455 section 1.3.
 * assert.equal(
 *   await websocketAccept("dGhlIHNhbXBsZSBub25jZQ=="),
 *   "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
 * );
 * ```
 */
export async function websocketAccept(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + WEBSOCKET_GUID),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}
