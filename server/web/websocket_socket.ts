/**
 * A WebSocket connection seen as the byte socket a session writes to: the
 * send queue hands it batches of JSON lines, and each batch leaves as one
 * write of text frames, one frame per line. Its read side turns the peer's
 * frames into request lines and answers pings and the closing handshake.
 *
 * Writes go to the connection itself, so a write resolves when the kernel
 * has taken the bytes, exactly as on TCP: the send queue's slow-consumer
 * rule, soft and hard limits and stuck-write deadline apply unchanged.
 *
 * @module
 */

import type { SessionSocket } from "../session.ts";
import type { Frame } from "../../wire/framing.ts";
import {
  CLOSE_NORMAL,
  closeFrame,
  closeReply,
  encodeFrame,
  FrameReader,
  OP_PONG,
  textFramesOfLines,
} from "./ws_frames.ts";

export { CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_POLICY } from "./ws_frames.ts";

/**
 * Time the close frame gets to leave before the connection is closed
 * anyway: a peer that stopped reading must not hold its slot.
 */
export const CLOSE_FRAME_WAIT_MS = 1000;

/** Bytes per read of a peer's frames. */
const READ_BYTES = 16 * 1024;

/** The last batch framed: a broadcast hands every member the same batch. */
let lastBatch: Uint8Array | null = null;
let lastFramed: Uint8Array = new Uint8Array(0);

/**
 * The text frames of a batch of JSON lines, shared by every recipient of
 * the same batch (the send queue joins a broadcast's lines into the very
 * same buffer for each member, net/outbound_queue.ts).
 */
export function framedBatch(batch: Uint8Array): Uint8Array {
  if (batch !== lastBatch) {
    lastFramed = textFramesOfLines(batch);
    lastBatch = batch;
  }
  return lastFramed;
}

/** A WebSocket connection as a {@linkcode SessionSocket}. */
export class WebSocketSocket implements SessionSocket {
  /** The code `close()` sends; set before closing for another reason. */
  closeCode: number = CLOSE_NORMAL;
  /** The close frame's reason text. */
  closeReason = "";
  readonly #conn: Deno.Conn;
  readonly #reader: FrameReader;
  /** Every write, in order: frames never interleave. */
  #tail: Promise<unknown> = Promise.resolve();
  #closedByUs = false;
  #connClosed = false;
  /**
   * The payload of the pong waiting behind the writes in progress, if one
   * waits: a later ping replaces it (RFC 6455 section 5.5.3 lets a pong
   * answer only the latest ping), so a peer that pings without reading
   * holds one pong here, not one per ping outside the send queue.
   */
  #pong: Uint8Array | null = null;

  /**
   * Takes over a connection whose upgrade is done.
   * @param conn the upgraded connection
   * @param maxMessageBytes the longest text message taken (the line limit)
   */
  constructor(conn: Deno.Conn, maxMessageBytes: number) {
    this.#conn = conn;
    this.#reader = new FrameReader(maxMessageBytes);
  }

  /**
   * Sends each line of `bytes` as a text frame, all in one write; resolves
   * with the whole length once the kernel has taken every byte.
   */
  write(bytes: Uint8Array): Promise<number> {
    if (this.#closedByUs) return Promise.reject(gone());
    return this.#send(framedBatch(bytes)).then(() => bytes.length);
  }

  /** Sends one text frame outside the send queue (a refusal's bye). */
  sendText(text: string): Promise<void> {
    return this.#send(encodeFrame(0x1, new TextEncoder().encode(text)));
  }

  #send(frames: Uint8Array): Promise<void> {
    const done = this.#tail.then(() => this.#writeAll(frames));
    this.#tail = done.catch(() => {});
    return done;
  }

  /** Queues a pong for `payload`, or makes the waiting one answer it. */
  #answerPing(payload: Uint8Array): void {
    const waiting = this.#pong !== null;
    this.#pong = payload;
    if (waiting) return;
    const done = this.#tail.then(() => {
      const latest = this.#pong!;
      this.#pong = null;
      return this.#writeAll(encodeFrame(OP_PONG, latest));
    });
    this.#tail = done.catch(() => {});
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.length;) {
      offset += await this.#conn.write(bytes.subarray(offset));
    }
  }

  /**
   * Reads the peer's frames until the connection ends, handing each text
   * message (or `too_long`) to `onMessage`, and null for a binary one.
   * `rest` is what arrived with the handshake. After each read, the bytes
   * no message stands for (control frames, headers, what a message too
   * long had beyond the limit) go to `onSkipped`; while the promise it may
   * return waits, nothing more is read. The peer's close frame ends the
   * reading but not the connection: its answer goes out from
   * {@linkcode close}, after what is still being sent.
   */
  async read(
    rest: Uint8Array,
    onMessage: (frame: Frame | null) => Promise<void> | void,
    onSkipped: (bytes: number) => Promise<void> | undefined = () => undefined,
  ): Promise<void> {
    const buffer = new Uint8Array(READ_BYTES);
    let bytes: Uint8Array | null = rest;
    try {
      while (!this.#connClosed) {
        for (const frame of this.#reader.push(bytes)) {
          let held: Promise<void> | void = undefined;
          switch (frame.kind) {
            case "text":
              held = onMessage({ kind: "line", text: frame.text });
              break;
            case "too_long":
              held = onMessage(frame);
              break;
            case "binary":
              held = onMessage(null);
              break;
            case "ping":
              this.#answerPing(frame.payload);
              break;
            case "pong":
              break;
            case "close":
              // The end of the peer's input, as a TCP peer's FIN: what it
              // is still owed (its last messages' confirmations, answers)
              // goes out before the close frame that answers its own, when
              // the session lets the socket go.
              this.closeCode = closeReply(frame.code);
              return;
            case "fail":
              this.closeCode = frame.code;
              this.closeReason = frame.reason;
              this.close();
              return;
          }
          if (held) {
            await held;
            if (this.#connClosed) return;
          }
        }
        const paced = onSkipped(this.#reader.takeSkippedBytes());
        if (paced !== undefined) await paced;
        if (this.#connClosed) return;
        const count = await this.#conn.read(buffer);
        if (count === null) return;
        bytes = buffer.subarray(0, count);
      }
    } catch {
      // Reset by the peer, or closed by us: either way the socket is done.
    }
  }

  /**
   * Sends the close frame (once) with {@linkcode closeCode} after whatever
   * is being written, then closes the connection; a write that does not
   * finish within {@linkcode CLOSE_FRAME_WAIT_MS} is abandoned.
   */
  close(): void {
    if (this.#closedByUs) return;
    this.#closedByUs = true;
    const frame = closeFrame(this.closeCode, this.closeReason);
    const closeConn = () => {
      clearTimeout(timer);
      if (this.#connClosed) return;
      this.#connClosed = true;
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
    };
    const timer = setTimeout(closeConn, CLOSE_FRAME_WAIT_MS);
    this.#send(frame).then(closeConn, closeConn);
  }
}

function gone(): Error {
  return new Deno.errors.BrokenPipe("the WebSocket is closed");
}
