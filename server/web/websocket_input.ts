/**
 * A WebSocket's incoming messages as the request lines of one session: each
 * text message is one JSON request (ws_frames.ts has already held it to the
 * line limit), handed to
 * the same dispatch as a TCP line, in order even while an earlier request
 * (hashing a password) is still running.
 *
 * @module
 */

import type { Hub } from "../hub.ts";
import {
  handleFrames,
  paceSkippedInput,
  refuseInput,
} from "../commands/dispatch.ts";
import type { Session } from "../session.ts";
import type { Frame } from "../../wire/framing.ts";
import { describeError } from "../log.ts";

/** Feeds one session's WebSocket messages to the dispatcher, in order. */
export class WebSocketInput {
  readonly #hub: Hub;
  readonly #session: Session;
  readonly #maxWaiting: number;
  /**
   * Frames that arrived while a request was still running (null for a
   * binary message, whose refusal keeps its place among the replies).
   */
  #waiting: Array<Frame | null> = [];
  #running = false;
  /** Settles when the running request and every frame behind it are done. */
  #idle: Promise<void> | undefined;

  /**
   * Starts with nothing waiting.
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

  /**
   * Takes one message: a text message as a line (or `too_long`, which the
   * frame reader decided by its UTF-8 size), null for a binary one. A
   * promise while the session holds its input (flood control's pacing, or
   * replies not yet gone): the socket reads nothing more until it settles,
   * as a TCP connection is not read, so those frames never count as
   * waiting behind a running request.
   */
  receive(frame: Frame | null): Promise<void> | undefined {
    const session = this.#session;
    if (session.state === "closing") return;
    if (this.#running) {
      if (
        session.inputHeld === 0 && this.#waiting.length >= this.#maxWaiting
      ) {
        this.#hub.disconnect(session, "flood", "Too many lines too fast");
        return;
      }
      this.#waiting.push(frame);
      return this.#held();
    }
    const pending = this.#handle(frame);
    if (pending !== undefined) this.#drain(pending);
    return this.#held();
  }

  /** The running work to wait for while the session holds its input. */
  #held(): Promise<void> | undefined {
    return this.#session.inputHeld > 0 ? this.#idle : undefined;
  }

  /**
   * Takes the bytes of a read that no message stands for; a promise while
   * flood control holds the connection for them (the socket waits to read).
   */
  skipped(bytes: number): Promise<void> | undefined {
    return paceSkippedInput(this.#hub, this.#session, bytes);
  }

  /**
   * One message: a request, or the refusal of a binary one, which counts
   * against flood control as a line does.
   */
  #handle(frame: Frame | null): Promise<void> | void {
    if (frame !== null) return handleFrames(this.#hub, this.#session, [frame]);
    return refuseInput(this.#hub, this.#session, {
      type: "error",
      code: "bad_request",
      message: "Binary frames are not requests; send one JSON object as text",
    });
  }

  #drain(pending: Promise<void>): void {
    this.#running = true;
    this.#idle = this.#runWaiting(pending).catch((error) =>
      this.#hub.log("error", "command_failed", {
        session: this.#session.id,
        error: describeError(error),
      })
    ).finally(() => this.#running = false);
  }

  async #runWaiting(pending: Promise<void>): Promise<void> {
    await pending;
    // Bounded by what arrives meanwhile, at most maxWaiting at a time.
    while (this.#waiting.length !== 0) {
      const frame = this.#waiting.shift() as Frame | null;
      const next = this.#handle(frame);
      if (next !== undefined) await next;
    }
  }
}
