/**
 * A waiting private message as a cluster's inbox stores it: one string,
 * "<id> <envelope>", where the envelope is JSON of the message without its
 * id and its sender's address (for the per-address quota). The id goes in
 * front because Redis assigns it inside the storing script, after the
 * envelope was built.
 *
 * @module
 */

import type { PrivateMessage } from "../../protocol.ts";

/** The stored envelope: the message (its id is the entry's prefix), the address. */
interface Envelope {
  m: Omit<PrivateMessage, "id">;
  a: string;
}

/** The envelope of `message` from `address`, to go after its id. */
export function encodeEnvelope(
  message: Omit<PrivateMessage, "id">,
  address: string,
): string {
  const envelope: Envelope = { m: message, a: address };
  return JSON.stringify(envelope);
}

/**
 * A stored entry's message and sender's address, or null for an entry this
 * code cannot read (it is left to expire).
 */
export function readEntry(
  entry: string,
): { message: PrivateMessage; address: string } | null {
  const space = entry.indexOf(" ");
  if (space < 1) return null;
  const id = Number(entry.slice(0, space));
  if (!Number.isSafeInteger(id) || id < 1) return null;
  let envelope: Partial<Envelope> | null;
  try {
    envelope = JSON.parse(entry.slice(space + 1));
  } catch {
    return null;
  }
  const message = envelope?.m;
  if (
    typeof envelope?.a !== "string" || message?.type !== "private" ||
    typeof message.from !== "string" || typeof message.to !== "string" ||
    typeof message.text !== "string" || typeof message.ts !== "number"
  ) {
    return null;
  }
  const { type, ts, from, to, text } = message;
  return { message: { type, id, ts, from, to, text }, address: envelope.a };
}
