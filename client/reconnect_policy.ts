/**
 * When the terminal client comes back after a connection ends, and when it
 * must not: reconnecting after a kick, a ban or a takeover undoes what an
 * operator or the nickname's owner just did (two clients on one registered
 * nickname would take it from each other forever). Pure, so every rule is
 * tested without sockets.
 *
 * @module
 */

import { type ByeCode, byeMeansReconnect } from "../wire/bye.ts";
import { DEFAULT_PORT } from "../wire/endpoint.ts";

/** How a connection ended, as the client saw it. */
export interface ConnectionEnd {
  /** The server's goodbye, if it sent one (JSON `bye` or a text refusal). */
  bye: { code: ByeCode; reason: string } | null;
  /** Whether the first bytes were a TLS record: a TLS port, spoken to plainly. */
  spokeTls: boolean;
  /**
   * Whether the first bytes were an HTTP response: the web client's port
   * (`--http-port`, 7080), taken for the chat's.
   */
  spokeHttp?: boolean;
}

/** What to do next. */
export type NextStep =
  | { action: "reconnect" }
  /** Stop with exit status `status`; `message` says why, in plain words. */
  | { action: "stop"; status: number; message: string };

/** The plain-words reason a client does not come back after `code`. */
function whyNotBack(code: ByeCode): string {
  switch (code) {
    case "kicked":
      return "an operator removed you from the server";
    case "banned":
      return "you are banned from this server";
    case "taken_over":
      return "your nickname is now in use by another login with its password; " +
        "taking it back would only push that one out";
    case "flood":
      return "you sent too many lines too fast";
    case "bad_password":
      return "too many wrong passwords";
    case "refused":
      return "the server refused this connection";
    case "quit":
      return "the server ended the session";
    case "shutdown":
    case "timeout":
    case "slow":
    case "full":
      return "the server asked not to";
  }
}

/**
 * Decides what follows the end of a connection the person did not end
 * themselves: reconnect after a network loss or a goodbye that means "try
 * again"; otherwise stop, saying why.
 */
export function nextStep(end: ConnectionEnd): NextStep {
  if (end.spokeTls) {
    return {
      action: "stop",
      status: 1,
      message: "This port speaks TLS: add --tls",
    };
  }
  if (end.spokeHttp) {
    return {
      action: "stop",
      status: 1,
      message: "This port serves the web client (HTTP), not the chat: give " +
        `the chat's port (${DEFAULT_PORT} unless the server was started with --port)`,
    };
  }
  if (end.bye === null || byeMeansReconnect(end.bye.code)) {
    return { action: "reconnect" };
  }
  return {
    action: "stop",
    status: 1,
    message: `${end.bye.reason}. Not reconnecting: ${
      whyNotBack(end.bye.code)
    }.`,
  };
}

/**
 * Whether `bytes`, the first a server sent, begin an HTTP response: the web
 * client's port answers the client's hello (followed by a blank line, which
 * ends an HTTP request's head and which a tern port ignores) with a 400.
 */
export function looksLikeHttp(bytes: Uint8Array): boolean {
  return new TextDecoder().decode(bytes.subarray(0, 7)) === "HTTP/1.";
}

/**
 * Whether `bytes`, the first a server sent, are a TLS record (a handshake or
 * an alert, version 3.x) rather than the text greeting of a plain port.
 */
export function looksLikeTls(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && (bytes[0] === 0x15 || bytes[0] === 0x16) &&
    bytes[1] === 0x03;
}

/**
 * Words for a TLS handshake that failed: when the server answered in plain
 * text (a tern port without TLS greets first), the TLS library's own words
 * ("received corrupt message of type InvalidContentType") say nothing a
 * person can act on; nor do a certificate's faults (an unknown CA, another
 * name, expired), which keep the library's words and add what to do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tlsFailureMessage } from "./reconnect_policy.ts";
 * assert.match(
 *   tlsFailureMessage("received corrupt message of type InvalidContentType"),
 *   /does not speak TLS/,
 * );
 * assert.equal(tlsFailureMessage("connection reset"), "connection reset");
 * ```
 */
export function tlsFailureMessage(message: string): string {
  if (
    /corrupt message|InvalidContentType|wrong version number/i.test(message)
  ) {
    return "This port does not speak TLS: drop --tls, or give the server's TLS port (7443 by default)";
  }
  if (/UnknownIssuer/i.test(message)) {
    return "The server's certificate is not signed by a CA this client " +
      `trusts (${message}): give that CA's certificate with --ca FILE`;
  }
  if (/not valid for name|NotValidForName/i.test(message)) {
    return `The server's certificate is for another name (${message}): ` +
      "connect with --host set to a name it is for";
  }
  if (/expired/i.test(message)) {
    return `The server's certificate has expired (${message}): its ` +
      "operator must renew it";
  }
  return message;
}

/** Reconnect delays, and when they start again from the shortest. */
export interface BackoffOptions {
  /** First delay, ms. Default 1000. */
  minMs?: number;
  /** Longest delay, ms. Default 30 000. */
  maxMs?: number;
  /**
   * How long a session must have stayed logged in for the delays to start
   * again from the shortest, ms. Default 30 000: a server that accepts the
   * login and then drops it at once is a failure like any other.
   */
  stableMs?: number;
  /** A number in [0, 1), for jitter. Default Math.random. */
  random?: () => number;
}

/**
 * Delays that double on every failed attempt, whether the connect failed or
 * the login did (refused, dropped straight after), and reset only after a
 * session that lasted.
 */
export class Backoff {
  #minMs: number;
  #maxMs: number;
  #stableMs: number;
  #random: () => number;
  #nextMs: number;

  /**
   * Starts at the shortest delay.
   * @param options delays and jitter; see {@linkcode BackoffOptions}
   */
  constructor(options: BackoffOptions = {}) {
    this.#minMs = options.minMs ?? 1000;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#stableMs = options.stableMs ?? 30_000;
    this.#random = options.random ?? Math.random;
    this.#nextMs = this.#minMs;
  }

  /**
   * The delay before the next attempt, ±20 % jitter; `loggedInMs` is how
   * long the connection that just ended stayed logged in (0 if never).
   */
  next(loggedInMs: number): number {
    if (loggedInMs >= this.#stableMs) this.#nextMs = this.#minMs;
    const delay = Math.round(this.#nextMs * (0.8 + this.#random() * 0.4));
    this.#nextMs = Math.min(this.#nextMs * 2, this.#maxMs);
    return delay;
  }
}
