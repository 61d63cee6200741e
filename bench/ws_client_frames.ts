/**
 * The load generator's side of WebSocket, as pure functions over bytes: the
 * handshake request, masked client text frames (one per line of text), and
 * a deframer that hands each of a server's frames to the same line scanner
 * (scanner.ts) that reads TCP, as one whole line.
 *
 * The generator speaks WebSocket over a plain TCP connection rather than
 * through the runtime's `WebSocket` for the reason scanner.ts exists: one
 * read per 64 KiB chunk and no string per message, so the client is never
 * the bottleneck it would be with a JavaScript event per frame.
 *
 * @module
 */

import { concatBytes } from "../wire/bytes.ts";

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const NEWLINE = new Uint8Array([0x0a]);

/**
 * The handshake request for `path` on `host`. The key is fixed: the
 * generator does not check the server's answer beyond its status line.
 */
export function handshakeRequest(host: string, path: string): string {
  return [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    "",
    "",
  ].join("\r\n");
}

/**
 * Each line of `text` (newline-terminated) as a masked, final text frame,
 * all in one buffer. The mask is all zeros, which leaves the payload as is:
 * legal (a server must unmask whatever the key), and free for the client.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maskedTextFrames } from "./ws_client_frames.ts";
 * assert.deepEqual([...maskedTextFrames("{}\n")], [
 *   0x81, 0x82, 0, 0, 0, 0, 0x7b, 0x7d,
 * ]);
 * ```
 */
export function maskedTextFrames(text: string): Uint8Array {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const payloads = lines.map((line) => encoder.encode(line));
  let size = 0;
  for (const payload of payloads) {
    size += payload.length + (payload.length < 126 ? 6 : 8);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const payload of payloads) {
    out[at++] = 0x81;
    if (payload.length < 126) {
      out[at++] = 0x80 | payload.length;
    } else {
      // Benchmark lines are under 64 KiB: the 16-bit length form is enough.
      out[at++] = 0x80 | 126;
      out[at++] = payload.length >>> 8;
      out[at++] = payload.length & 0xff;
    }
    at += 4; // the zero mask
    out.set(payload, at);
    at += payload.length;
  }
  return out;
}

/**
 * A server's frames back into lines: each data frame's payload followed by
 * a newline (payloads of JSON text never hold one). Control frames are
 * dropped, and a close frame ends the stream (`closed`).
 */
export class Deframer {
  #rest: Uint8Array = new Uint8Array(0);
  /** Set once a close frame has arrived. */
  closed = false;

  /**
   * Calls `visit` with each data frame's payload, `bytes[start..end)`, in
   * order, without copying it (only a frame cut between two reads is
   * joined with the next read); control frames are skipped, and a close
   * frame sets {@linkcode Deframer.closed}.
   */
  each(
    chunk: Uint8Array,
    visit: (bytes: Uint8Array, start: number, end: number) => void,
  ): void {
    let data = chunk;
    if (this.#rest.length > 0) {
      data = new Uint8Array(this.#rest.length + chunk.length);
      data.set(this.#rest);
      data.set(chunk, this.#rest.length);
    }
    let at = 0;
    while (at + 2 <= data.length) {
      const opcode = data[at]! & 0x0f;
      let length = data[at + 1]! & 0x7f;
      let head = 2;
      if (length === 126) {
        if (at + 4 > data.length) break;
        length = (data[at + 2]! << 8) | data[at + 3]!;
        head = 4;
      } else if (length === 127) {
        if (at + 10 > data.length) break;
        length = new DataView(data.buffer, data.byteOffset + at + 6, 4)
          .getUint32(0);
        head = 10;
      }
      if (at + head + length > data.length) break;
      if (opcode === 0x8) this.closed = true;
      if (opcode < 0x8) visit(data, at + head, at + head + length);
      at += head + length;
    }
    this.#rest = at === data.length ? EMPTY : data.slice(at);
  }

  /** The payloads `chunk` completes as text lines, a newline after each. */
  push(chunk: Uint8Array): Uint8Array {
    const parts: Uint8Array[] = [];
    this.each(chunk, (bytes, start, end) => {
      parts.push(bytes.slice(start, end), NEWLINE);
    });
    return concatBytes(parts);
  }
}
