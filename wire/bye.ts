/**
 * Why the server ends a connection, as a code a program can act on: the
 * `code` of a JSON `bye`, and the word in brackets of a text-mode
 * `*** Disconnected (code): words` line. The codes split into those that
 * mean "come back later" and those that mean "do not come back": a client
 * that reconnects after a kick or a takeover fights the operator or its own
 * other session forever.
 *
 * @module
 */

import { readerText } from "./framing.ts";

/** Machine-readable reason carried by every `bye`. */
export type ByeCode =
  /** The client asked to leave. */
  | "quit"
  /** The server is stopping or restarting. */
  | "shutdown"
  /** An operator removed the connection. */
  | "kicked"
  /** The address or nickname is banned. */
  | "banned"
  /** The same registered nickname logged in elsewhere. */
  | "taken_over"
  /** Too many lines too fast. */
  | "flood"
  /** The client read its output too slowly. */
  | "slow"
  /** Login took too long, or the connection went silent. */
  | "timeout"
  /** Too many wrong passwords. */
  | "bad_password"
  /** The server is full, or the address has too many connections. */
  | "full"
  /** The client broke the protocol (too many lines before login, HTTP). */
  | "refused";

/** Every code, for validation and exhaustive tables. */
export const BYE_CODES: readonly ByeCode[] = [
  "quit",
  "shutdown",
  "kicked",
  "banned",
  "taken_over",
  "flood",
  "slow",
  "timeout",
  "bad_password",
  "full",
  "refused",
];

/**
 * Whether a client should reconnect (with backoff) after a `bye` with this
 * code. Yes for conditions that pass on their own: the server restarting, a
 * network stall, a full server. No for anything a person or the server
 * decided about this client: reconnecting would undo it, or fail the same way.
 */
export function byeMeansReconnect(code: ByeCode): boolean {
  switch (code) {
    case "shutdown":
    case "timeout":
    case "slow":
    case "full":
      return true;
    case "quit":
    case "kicked":
    case "banned":
    case "taken_over":
    case "flood":
    case "bad_password":
    case "refused":
      return false;
  }
}

/** Whether `value` is a known bye code. */
export function isByeCode(value: unknown): value is ByeCode {
  return typeof value === "string" &&
    (BYE_CODES as readonly string[]).includes(value);
}

/**
 * The text-mode goodbye line, e.g. `*** Disconnected (kicked): Kicked by op`;
 * the reason, which may quote an operator's words, as a terminal shows it
 * ({@linkcode readerText}).
 */
export function byeLine(code: ByeCode, reason: string): string {
  return `*** Disconnected (${code}): ${readerText(reason)}`;
}

/** A text-mode goodbye line: `*** Disconnected (code): reason`. */
const BYE_LINE = /^\*\*\* Disconnected \(([a-z_]+)\): (.*)$/;

/**
 * Reads a text-mode goodbye line back into its code and words, or null when
 * `line` is not one. A client reads the server's text lines before its first
 * JSON reply with this: a refusal at connect (banned, full) comes as text.
 */
export function parseByeLine(
  line: string,
): { code: ByeCode; reason: string } | null {
  const match = BYE_LINE.exec(line);
  if (match === null || !isByeCode(match[1])) return null;
  return { code: match[1], reason: match[2]! };
}
