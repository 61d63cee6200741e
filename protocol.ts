/**
 * The wire protocol that the server, the terminal client and bots agree on.
 * Pure: nothing here touches a socket, so every rule is tested with plain
 * bytes and objects. This module gathers the wire's parts (all in wire/):
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
 *   {@linkcode encodeTextEvent}, and `/help` from the command table.
 * - json_codec.ts: {@linkcode decodeJsonRequest}, {@linkcode encodeJsonRequest},
 *   {@linkcode decodeJsonEvent}, {@linkcode encodeJsonEvent}.
 * - encoded_event.ts: {@linkcode EncodedEvent}, an event's bytes in each
 *   codec, encoded once however many receive it.
 * - names.ts (nickname and room rules) and endpoint.ts (defaults) are
 *   imported directly by those who need them.
 *
 * @module
 */

export * from "./wire/bye.ts";
export * from "./wire/commands.ts";
export * from "./wire/encoded_event.ts";
export * from "./wire/events.ts";
export * from "./wire/framing.ts";
export * from "./wire/json_codec.ts";
export * from "./wire/text_codec.ts";
