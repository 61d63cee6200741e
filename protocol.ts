/**
 * The wire protocol that the server, the terminal client and bots agree on.
 * Pure: nothing here touches a socket, so every rule is tested with plain
 * bytes and objects. This module gathers the wire's parts and adds what
 * joins them, {@linkcode EncodedEvent}:
 *
 * - framing.ts: {@linkcode LineFramer} (bytes in, whole lines out, bounded)
 *   and {@linkcode sanitizeText}.
 * - bye.ts: {@linkcode ByeCode}, why a connection ends, and whether to come
 *   back.
 * - events.ts: {@linkcode ClientRequest} / {@linkcode ServerEvent}, the
 *   event model both codecs share.
 * - commands.ts: {@linkcode REQUESTS}, the command table: one row per
 *   request with its text syntax, JSON fields and dispatch policy.
 * - text_codec.ts: {@linkcode decodeTextRequest}, {@linkcode encodeTextRequest},
 *   {@linkcode encodeTextEvent}, and the command table.
 * - json_codec.ts: {@linkcode decodeJsonRequest}, {@linkcode encodeJsonRequest},
 *   {@linkcode decodeJsonEvent}, {@linkcode encodeJsonEvent}.
 *
 * @module
 */

import type { ServerEvent } from "./wire/events.ts";
import { encodeJsonEvent } from "./wire/json_codec.ts";
import {
  encodeTextEvent,
  encodeTextEventElsewhere,
  isRoomBroadcast,
} from "./wire/text_codec.ts";

export * from "./wire/commands.ts";
export * from "./wire/bye.ts";
export * from "./wire/events.ts";
export * from "./wire/framing.ts";
export * from "./wire/json_codec.ts";
export * from "./wire/text_codec.ts";

/** Which of the two codecs a connection speaks. */
export type Codec = "text" | "json";

const encoder = new TextEncoder();

/**
 * An event with its bytes for each codec, computed on first use and shared by
 * every recipient: a broadcast to a thousand people encodes at most three
 * times (JSON; text for members whose current room it is; text tagged with
 * the room for the others).
 */
export class EncodedEvent {
  /** The event itself. */
  readonly event: ServerEvent;
  #text: Uint8Array | undefined;
  #textElsewhere: Uint8Array | undefined;
  #json: Uint8Array | undefined;

  /**
   * Wraps an event; nothing is encoded until a codec asks.
   *
   * @param event the event to deliver
   */
  constructor(event: ServerEvent) {
    this.event = event;
  }

  /**
   * The event's bytes in `codec`. `elsewhere` is for a room's broadcast
   * reaching a member whose current room is another: text mode then tags
   * each line with the room; JSON carries `room` anyway.
   */
  bytes(codec: Codec, elsewhere = false): Uint8Array {
    const event = this.event;
    if (codec === "json") {
      return this.#json ??= encoder.encode(encodeJsonEvent(event));
    }
    if (elsewhere && isRoomBroadcast(event)) {
      return this.#textElsewhere ??= encoder.encode(
        encodeTextEventElsewhere(event),
      );
    }
    return this.#text ??= encoder.encode(encodeTextEvent(event));
  }
}
