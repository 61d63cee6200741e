/**
 * Web addresses in a message, found so the page can make them links: only
 * `http:` and `https:` ones, so a `javascript:` or `data:` text stays text.
 * Pure: the page builds the elements, with `textContent` and `href` only.
 *
 * @module
 */

/** A run of a message's text, and the address it links to if it is one. */
export interface TextPart {
  /** The run as written. */
  text: string;
  /** The address to open, when the run is one. */
  href?: string;
}

/** An address as written in chat: up to a space, a quote or an angle bracket. */
const ADDRESS = /\bhttps?:\/\/[^\s<>"]+/gi;

/** Punctuation that ends a sentence rather than the address before it. */
const TRAILING = /[.,;:!?'*]+$/;

/**
 * Drops what follows an address in prose rather than belonging to it: a
 * final full stop or comma, or a closing bracket that has no opening one in
 * the address (`(see https://a.example/x)`).
 */
function trimAddress(address: string): string {
  let trimmed = address.replace(TRAILING, "");
  for (const [open, close] of [["(", ")"], ["[", "]"]] as const) {
    while (
      trimmed.endsWith(close) &&
      trimmed.split(open).length < trimmed.split(close).length
    ) {
      trimmed = trimmed.slice(0, -1).replace(TRAILING, "");
    }
  }
  return trimmed;
}

/**
 * A message's text split into plain runs and web addresses, in order; the
 * runs joined are the text unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linkParts } from "./links.ts";
 * assert.deepEqual(linkParts("see https://a.example/x, then javascript:alert(1)"), [
 *   { text: "see " },
 *   { text: "https://a.example/x", href: "https://a.example/x" },
 *   { text: ", then javascript:alert(1)" },
 * ]);
 * ```
 */
export function linkParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0;
  for (const match of text.matchAll(ADDRESS)) {
    const address = trimAddress(match[0]);
    let href: string;
    try {
      const url = new URL(address);
      if (url.protocol !== "http:" && url.protocol !== "https:") continue;
      href = url.href;
    } catch {
      continue;
    }
    if (match.index > at) parts.push({ text: text.slice(at, match.index) });
    parts.push({ text: address, href });
    at = match.index + address.length;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}
