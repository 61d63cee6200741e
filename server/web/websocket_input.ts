/**
 * A WebSocket's incoming frames as the request lines of one session: each
 * text frame is one JSON request, checked against the line limit, handed to
 * the same dispatch as a TCP line, in order even while an earlier request
 * (hashing a password) is still running.
 *
 * @module
 */

import type { Hub } from "../hub.ts";
import { handleFrames } from "../commands/dispatch.ts";
import type { Session } from "../session.ts";
import type { Frame } from "../../wire/framing.ts";
import { describeError } from "../log.ts";

const encoder = new TextEncoder();

/**
 * The frame a WebSocket message makes: its text as one line, or a
 * `too_long` frame when its UTF-8 form passes the line limit. A binary
 * frame is not a request (null).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { frameOfMessage } from "./websocket_input.ts";
 * assert.deepEqual(frameOfMessage('{"type":"rooms"}', 64), {
 *   kind: "line", text: '{"type":"rooms"}',
 * });
 * assert.deepEqual(frameOfMessage("é".repeat(40), 64), {
 *   kind: "too_long", limit: 64,
 * });
 * ```
 */
export function frameOfMessage(
  data: unknown,
  maxLineBytes: number,
): Frame | null {
  if (typeof data !== "string") return null;
  // A UTF-16 unit is at most 3 UTF-8 bytes: most frames need no encoding.
  if (
    data.length * 3 > maxLineBytes &&
    encoder.encode(data).length > maxLineBytes
  ) {
    return { kind: "too_long", limit: maxLineBytes };
  }
  return { kind: "line", text: data };
}

/** Feeds one session's WebSocket messages to the dispatcher, in order. */
export class WebSocketInput {
  readonly #hub: Hub;
  readonly #session: Session;
  readonly #maxWaiting: number;
  /** Frames that arrived while a request was still running. */
  #waiting: Frame[] = [];
  #running = false;

  /**
   * @param hub the server
   * @param session the WebSocket's session (JSON mode)
   * @param maxWaiting frames that may wait behind a running request; more
   *   is a flood and disconnects
   */
  constructor(hub: Hub, session: Session, maxWaiting: number) {
    this.#hub = hub;
    this.#session = session;
    this.#maxWaiting = maxWaiting;
  }

  /** Takes one message's data (a string for a text frame). */
  receive(data: unknown): void {
    const session = this.#session;
    if (session.state === "closing") return;
    const frame = frameOfMessage(data, this.#hub.limits.maxLineBytes);
    if (frame === null) {
      session.send({
        type: "error",
        code: "bad_request",
        message: "Binary frames are not requests; send one JSON object as text",
      });
      return;
    }
    if (this.#running) {
      if (this.#waiting.length >= this.#maxWaiting) {
        this.#hub.disconnect(session, "flood", "Too many lines too fast");
        return;
      }
      this.#waiting.push(frame);
      return;
    }
    const pending = handleFrames(this.#hub, session, [frame]);
    if (pending !== undefined) this.#drain(pending);
  }

  #drain(pending: Promise<void>): void {
    this.#running = true;
    this.#runWaiting(pending).catch((error) =>
      this.#hub.log("error", "command_failed", {
        session: this.#session.id,
        error: describeError(error),
      })
    ).finally(() => this.#running = false);
  }

  async #runWaiting(pending: Promise<void>): Promise<void> {
    await pending;
    while (this.#waiting.length !== 0) {
      const next = handleFrames(this.#hub, this.#session, [
        this.#waiting.shift()!,
      ]);
      if (next !== undefined) await next;
    }
  }
}
