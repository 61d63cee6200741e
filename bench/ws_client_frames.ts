/**
 * The load generator's side of WebSocket, as pure functions over bytes: the
 * handshake request, masked client text frames (one per line of text), and
 * a deframer that turns a server's text frames back into newline-separated
 * lines, so the same line scanner (scanner.ts) reads WebSocket and TCP.
 *
 * The generator speaks WebSocket over a plain TCP connection rather than
 * through the runtime's `WebSocket` for the reason scanner.ts exists: one
 * read per 64 KiB chunk and no string per message, so the client is never
 * the bottleneck it would be with a JavaScript event per frame.
 *
 * @module
 */

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

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
   * The lines the bytes complete, with a newline after each. Works in
   * place: payloads move down over the frame headers within `chunk` (which
   * it overwrites), and the result is a view of it; no allocation unless a
   * frame was cut between two reads.
   */
  push(chunk: Uint8Array): Uint8Array {
    let data = chunk;
    if (this.#rest.length > 0) {
      data = new Uint8Array(this.#rest.length + chunk.length);
      data.set(this.#rest);
      data.set(chunk, this.#rest.length);
    }
    // A frame's header is at least as long as the newline that replaces
    // it, so the output never overtakes the input.
    let size = 0;
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
      if (opcode < 0x8) {
        data.copyWithin(size, at + head, at + head + length);
        size += length;
        data[size++] = 0x0a;
      }
      at += head + length;
    }
    this.#rest = at === data.length ? EMPTY : data.slice(at);
    return data.subarray(0, size);
  }
}
