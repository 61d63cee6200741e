/**
 * What the client does with a line longer than the server reads at once
 * (the welcome's `maxLine`): a message, action or private message is cut
 * into several that each fit, between words where it can and never inside
 * a character, instead of being refused whole. The client speaks JSON, where
 * a quote or a backslash takes two bytes, so a line `nc` could send in one
 * would otherwise be refused from the client. Pure.
 *
 * @module
 */

import { type ClientRequest, encodeJsonRequest } from "../protocol.ts";

const encoder = new TextEncoder();
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** The requests whose text may be cut into several of the same. */
type Splittable = ClientRequest & { type: "message" | "action" | "private" };

function isSplittable(request: ClientRequest): request is Splittable {
  return request.type === "message" || request.type === "action" ||
    request.type === "private";
}

/** Bytes of `request` as a JSON line, without its newline. */
function lineBytes(request: ClientRequest): number {
  return encoder.encode(encodeJsonRequest(request)).length - 1;
}

/** Bytes one character takes inside a JSON string. */
function escapedBytes(character: string): number {
  return encoder.encode(JSON.stringify(character)).length - 2;
}

/** Smallest room for text worth cutting into; less and the line goes whole. */
const MIN_PIECE_BYTES = 16;

/**
 * `request` as requests whose JSON lines are at most `maxLine` bytes: itself
 * when it fits or cannot be cut (another type, or a limit that leaves no
 * room for text), else pieces of its text in order. A piece ends at the last
 * space in its second half, which is dropped (joined with spaces, the pieces
 * are the text), or else at a character's edge (joined, they are the text).
 */
export function splitLongRequest(
  request: ClientRequest,
  maxLine: number,
): ClientRequest[] {
  if (!isSplittable(request) || lineBytes(request) <= maxLine) {
    return [request];
  }
  const room = maxLine - lineBytes({ ...request, text: "" });
  if (room < MIN_PIECE_BYTES) return [request];
  const characters = [...graphemes.segment(request.text)].map((s) => s.segment);
  const pieces: string[] = [];
  let start = 0;
  while (start < characters.length) {
    let end = start;
    let used = 0;
    let space = -1;
    while (end < characters.length) {
      const cost = escapedBytes(characters[end]!);
      if (used + cost > room) break;
      used += cost;
      if (characters[end] === " ") space = end;
      end++;
    }
    if (end === start) end = start + 1; // One character past the limit.
    if (end < characters.length && space > start + (end - start) / 2) {
      pieces.push(characters.slice(start, space).join(""));
      start = space + 1;
    } else {
      pieces.push(characters.slice(start, end).join(""));
      start = end;
    }
  }
  return pieces.filter((piece) => piece.trim() !== "").map((text) => ({
    ...request,
    text,
  }));
}
