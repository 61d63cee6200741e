/**
 * An event with its bytes in each codec, encoded at most once per codec
 * (and per text form) however many recipients share it.
 *
 * @module
 */

import type { ServerEvent } from "./events.ts";
import { encodeJsonEvent } from "./json_codec.ts";
import {
  encodeTextEvent,
  encodeTextEventElsewhere,
  isRoomBroadcast,
} from "./text_codec.ts";

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
