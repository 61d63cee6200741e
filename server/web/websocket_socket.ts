/**
 * A server-side WebSocket seen as the byte socket a session writes to: the
 * send queue hands it batches of JSON lines, and each line leaves as one
 * text frame.
 *
 * Deno's WebSocket has no awaitable send: `send()` copies the frame into a
 * buffer of its own and returns, and `bufferedAmount` counts what the
 * socket has not yet written. So a write here resolves only once that
 * count is back under {@linkcode BUFFERED_LOW_WATER_BYTES}: until then the
 * batch stays "in flight" in the send queue, which keeps counting it and
 * queues everything after it, so the slow-consumer rule, the soft and hard
 * limits and the stuck-write deadline apply exactly as on TCP.
 *
 * @module
 */

import type { SessionSocket } from "../session.ts";

/**
 * A write is done once the socket holds at most this much unwritten: enough
 * that a reading peer never waits on our polling, small next to the send
 * queue's soft limit, so almost all of a slow reader's backlog is counted.
 */
export const BUFFERED_LOW_WATER_BYTES = 16 * 1024;

/**
 * How often a write waiting on a full socket looks again. There is no drain
 * event; only a reader already behind pays this poll.
 */
export const DRAIN_POLL_MS = 5;

/** Close codes the server uses (RFC 6455 section 7.4.1). */
export const CLOSE_NORMAL = 1000;
/** The server is shutting down. */
export const CLOSE_GOING_AWAY = 1001;
/** Refused by policy (banned, full, too many connections). */
export const CLOSE_POLICY = 1008;

const decoder = new TextDecoder();

/** The last batch split into frames: a broadcast hands every member the same. */
let lastBatch: Uint8Array | null = null;
let lastFrames: string[] = [];

/**
 * The text frames in a batch of newline-terminated JSON lines. Encoded
 * events never hold a raw newline (JSON escapes it), so each line is one
 * whole event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { framesOf } from "./websocket_socket.ts";
 * const bytes = new TextEncoder().encode('{"a":1}\n{"b":2}\n');
 * assert.deepEqual(framesOf(bytes), ['{"a":1}', '{"b":2}']);
 * ```
 */
export function framesOf(batch: Uint8Array): string[] {
  if (batch === lastBatch) return lastFrames;
  const lines = decoder.decode(batch).split("\n");
  if (lines.at(-1) === "") lines.pop();
  lastBatch = batch;
  lastFrames = lines;
  return lines;
}

/** The slice of `WebSocket` this adapter uses, so tests can stand in. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "close" | "error", listener: () => void): void;
}

/** A WebSocket as a {@linkcode SessionSocket}. */
export class WebSocketSocket implements SessionSocket {
  /** The code `close()` sends; set before closing for another reason. */
  closeCode: number = CLOSE_NORMAL;
  /** The close frame's reason text. */
  closeReason = "";
  readonly #ws: WebSocketLike;
  #closedByUs = false;
  #resolveClosed!: () => void;
  /**
   * Settles once the peer's side is gone or this side closed it. A peer
   * that stopped reading may never finish the closing handshake (the runtime
   * holds the socket until TCP gives up), so our own close counts as closed.
   */
  readonly closed: Promise<void>;

  /** @param ws an open server-side WebSocket */
  constructor(ws: WebSocketLike) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    const done = () => this.#resolveClosed();
    ws.addEventListener("close", done);
    ws.addEventListener("error", done);
  }

  /**
   * Sends each line of `bytes` as a text frame; resolves with the whole
   * length once the socket has taken all but the low-water mark, rejects
   * if it closes first.
   */
  write(bytes: Uint8Array): Promise<number> {
    const ws = this.#ws;
    if (ws.readyState !== WebSocket.OPEN) return Promise.reject(gone());
    for (const frame of framesOf(bytes)) ws.send(frame);
    if (ws.bufferedAmount <= BUFFERED_LOW_WATER_BYTES) {
      return Promise.resolve(bytes.length);
    }
    return new Promise((resolve, reject) => {
      const poll = () => {
        if (ws.readyState !== WebSocket.OPEN) reject(gone());
        else if (ws.bufferedAmount <= BUFFERED_LOW_WATER_BYTES) {
          resolve(bytes.length);
        } else setTimeout(poll, DRAIN_POLL_MS);
      };
      setTimeout(poll, DRAIN_POLL_MS);
    });
  }

  /** Sends the close frame (once) with {@linkcode closeCode}. */
  close(): void {
    if (this.#closedByUs) return;
    this.#closedByUs = true;
    this.#resolveClosed();
    const state = this.#ws.readyState;
    if (state === WebSocket.CLOSING || state === WebSocket.CLOSED) return;
    this.#ws.close(this.closeCode, this.closeReason);
  }
}

function gone(): Error {
  return new Deno.errors.BrokenPipe("the WebSocket is closed");
}
