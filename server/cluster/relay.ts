/**
 * The text a room message travels in between the nodes of a cluster. A
 * node sends the message without its id; Redis's publish script puts the id
 * it assigned in front (`<id> <json>`), so the id every node sees is the
 * one whose order Redis delivered it in.
 *
 * @module
 */

import type { RoomMessage } from "../../protocol.ts";
import { sanitizeText } from "../../protocol.ts";

/** A room message as relayed, with who sent it from where. */
export interface Relay {
  /** The id Redis assigned: unique, increasing in delivery order. */
  id: number;
  /** The node the sender is connected to. */
  node: string;
  /** That node's token for the send, to find the sender's confirmation. */
  token: number;
  /** The message, its id set to {@linkcode Relay.id}. */
  message: RoomMessage;
}

/** The JSON part a node publishes (the id comes from Redis). */
export function encodeRelay(
  node: string,
  token: number,
  message: RoomMessage,
): string {
  const { type, ts, room, from, text } = message;
  return JSON.stringify({ node, token, type, ts, room, from, text });
}

/**
 * Reads a relayed message (`<id> <json>`); null for anything malformed,
 * which a node logs and drops rather than trusting.
 */
export function decodeRelay(line: string): Relay | null {
  const space = line.indexOf(" ");
  if (space <= 0) return null;
  const id = Number(line.slice(0, space));
  if (!Number.isSafeInteger(id) || id <= 0) return null;
  let value: unknown;
  try {
    value = JSON.parse(line.slice(space + 1));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (
    typeof v.node !== "string" || typeof v.token !== "number" ||
    (v.type !== "message" && v.type !== "action") ||
    typeof v.ts !== "number" || typeof v.room !== "string" ||
    typeof v.from !== "string" || typeof v.text !== "string"
  ) {
    return null;
  }
  return {
    id,
    node: v.node,
    token: v.token,
    message: {
      type: v.type,
      id,
      ts: v.ts,
      room: v.room,
      from: v.from,
      text: sanitizeText(v.text),
    },
  };
}
