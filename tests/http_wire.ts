/**
 * A raw HTTP/1.1 client for tests of the web listener: it sends bytes as
 * given and reads responses one at a time, each framed by its
 * `Content-Length` (the only framing the listener uses), so a test sees
 * exactly what a persistent connection carries and when the server ends it.
 *
 * @module
 */

import { within } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One response as it came off the wire. */
export interface WireResponse {
  /** The status code. */
  status: number;
  /** The head's text, status line and headers, without the blank line. */
  head: string;
  /** Header names lowercased; repeated headers joined with ", ". */
  headers: Headers;
  /** The body, as long as `Content-Length` says (none to a HEAD). */
  body: string;
}

/** A client connection to the web listener. */
export class HttpWire implements Disposable {
  /** The socket itself, for what a test does by hand. */
  readonly conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);
  readonly #chunk = new Uint8Array(65536);
  #ended = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects to the listener at `port` on 127.0.0.1. */
  static async open(port: number): Promise<HttpWire> {
    return new HttpWire(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends text (or bytes) exactly as given. */
  async send(request: string | Uint8Array): Promise<void> {
    const bytes = typeof request === "string"
      ? encoder.encode(request)
      : request;
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /** Reads once more; false when the server has closed (or reset). */
  async #fill(ms: number): Promise<boolean> {
    if (this.#ended) return false;
    let count: number | null;
    try {
      count = await within(this.conn.read(this.#chunk), "the server", ms);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("Timed out")) {
        throw error;
      }
      count = null;
    }
    if (count === null) {
      this.#ended = true;
      return false;
    }
    const joined = new Uint8Array(this.#buffer.length + count);
    joined.set(this.#buffer);
    joined.set(this.#chunk.subarray(0, count), this.#buffer.length);
    this.#buffer = joined;
    return true;
  }

  /**
   * The next response, or null when the server closed the connection before
   * one began. `headOnly`: it answers a HEAD, so its `Content-Length` says
   * nothing about bytes that follow. Fails on a partial response or when
   * nothing more comes within `ms`.
   */
  async response(headOnly = false, ms = 5000): Promise<WireResponse | null> {
    let end = -1;
    for (let reads = 0; reads < 10_000; reads++) {
      end = indexOfBlankLine(this.#buffer);
      if (end !== -1) break;
      if (!(await this.#fill(ms))) {
        if (this.#buffer.length === 0) return null;
        throw new Error(
          `the connection ended inside a response head: ${
            decoder.decode(this.#buffer)
          }`,
        );
      }
    }
    const head = decoder.decode(this.#buffer.subarray(0, end));
    const [statusLine, ...lines] = head.split("\r\n");
    const status = Number(statusLine!.split(" ")[1]);
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    const length = headOnly || status === 101
      ? 0
      : Number(headers.get("content-length") ?? "0");
    const start = end + 4;
    for (let reads = 0; this.#buffer.length < start + length; reads++) {
      if (reads > 10_000 || !(await this.#fill(ms))) {
        throw new Error(`the connection ended inside the body of: ${head}`);
      }
    }
    const body = decoder.decode(this.#buffer.subarray(start, start + length));
    this.#buffer = this.#buffer.slice(start + length);
    return { status, head, headers, body };
  }

  /** The next `count` bytes, whatever they are (a WebSocket frame's start). */
  async bytes(count: number, ms = 5000): Promise<Uint8Array> {
    for (let reads = 0; this.#buffer.length < count; reads++) {
      if (reads > 10_000 || !(await this.#fill(ms))) {
        throw new Error(`the connection ended before ${count} bytes`);
      }
    }
    const bytes = this.#buffer.slice(0, count);
    this.#buffer = this.#buffer.slice(count);
    return bytes;
  }

  /**
   * Resolves once the server has closed the connection, with any bytes it
   * sent first that are not part of a response already read.
   */
  async closed(ms = 5000): Promise<string> {
    for (let reads = 0; reads < 10_000; reads++) {
      if (!(await this.#fill(ms))) break;
    }
    const rest = decoder.decode(this.#buffer);
    this.#buffer = new Uint8Array(0);
    return rest;
  }

  /** Closes the socket, if the server has not. */
  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) {
      return i;
    }
  }
  return -1;
}

/** A GET (or other method) request's text, with a Host and extra headers. */
export function request(
  target: string,
  headers: string[] = [],
  { method = "GET", version = "HTTP/1.1", body = "" } = {},
): string {
  return [
    `${method} ${target} ${version}`,
    ...(version === "HTTP/1.1" ? ["Host: 127.0.0.1"] : []),
    ...headers,
    "",
    body,
  ].join("\r\n");
}
