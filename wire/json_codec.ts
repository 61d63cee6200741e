/**
 * The JSON-lines codec, for bots and the terminal client: one object per
 * line both ways. Requests are validated field by field, and a bad line is an
 * error event, never an exception.
 *
 * @module
 */

import {
  type ClientRequest,
  type ErrorEvent,
  errorEvent,
  type Hints,
  type JsonValue,
  type ServerEvent,
} from "./events.ts";
import { type FieldKind, isRequestType, requestSpec } from "./commands.ts";
import { checkNick } from "./names.ts";

/** A parsed JSON value narrowed to a plain object. */
type JsonObject = Record<string, unknown>;

/** Parses a line that must hold one JSON object. */
function parseObject(
  line: string,
): { ok: true; value: JsonObject } | { ok: false; error: ErrorEvent } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return {
      ok: false,
      error: errorEvent("bad_json", "Cannot parse line: not valid JSON"),
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      error: errorEvent("bad_request", "Cannot accept request: not an object"),
    };
  }
  return { ok: true, value: value as JsonObject };
}

/** Field readers that collect the first problem instead of throwing. */
class FieldReader {
  problem: string | null = null;
  constructor(private readonly source: JsonObject) {}

  string(key: string): string {
    const value = this.source[key];
    if (typeof value === "string") return value;
    this.problem ??= `"${key}" must be a string`;
    return "";
  }

  /** A whole number of at least 1, when present. */
  optionalCount(key: string): number | undefined {
    const value = this.source[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) {
      return value;
    }
    this.problem ??= `"${key}" must be a whole number above 0 when present`;
    return undefined;
  }

  optionalString(key: string): string | undefined {
    const value = this.source[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    this.problem ??= `"${key}" must be a string when present`;
    return undefined;
  }

  /** `commands` or `requests`, when present (a hello's `hints`). */
  optionalHints(key: string): Hints | undefined {
    const value = this.source[key];
    if (value === undefined || value === null) return undefined;
    if (value === "commands" || value === "requests") return value;
    this.problem ??= `"${key}" must be "commands" or "requests" when present`;
    return undefined;
  }

  /**
   * A valid nickname, when present: a cursor that is not one (empty, or a
   * room name) sorts before every nickname and would read as "from the
   * start", so it is refused rather than answered with the first page.
   */
  optionalNick(key: string): string | undefined {
    const value = this.optionalString(key);
    if (value === undefined) return undefined;
    if (value.trim() === "") {
      this.problem ??= `"${key}" must not be empty when present`;
      return undefined;
    }
    const nick = checkNick(value);
    if (nick.ok) return value;
    this.problem ??= `"${key}" must be a nickname when present ` +
      `(${nick.reason})`;
    return undefined;
  }
}

/** Reads one field of the kind the command table gives it. */
function readField(
  fields: FieldReader,
  key: string,
  kind: FieldKind,
): string | number | undefined {
  switch (kind) {
    case "string":
      return fields.string(key);
    case "string?":
      return fields.optionalString(key);
    case "nick?":
      return fields.optionalNick(key);
    case "count?":
      return fields.optionalCount(key);
    case "hints?":
      return fields.optionalHints(key);
  }
}

/**
 * Reads one JSON-mode line into a request, validating every field the
 * command table (commands.ts) lists for its type; a bad line becomes
 * an error event naming the problem (and echoing `ref` when it could be
 * read), never an exception.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeJsonRequest } from "../protocol.ts";
 * assert.deepEqual(decodeJsonRequest('{"type":"join","room":"#dev"}'), {
 *   type: "join", room: "#dev",
 * });
 * assert.equal(decodeJsonRequest('{"type":"join"}').type, "error");
 * ```
 */
export function decodeJsonRequest(line: string): ClientRequest | ErrorEvent {
  const parsed = parseObject(line);
  if (!parsed.ok) return parsed.error;
  const source = parsed.value;
  const fields = new FieldReader(source);
  const ref = fields.optionalString("ref");
  if (fields.problem !== null) {
    // The one error that cannot echo a string ref: echo what was sent.
    const what = typeof source.type === "string"
      ? `Bad ${source.type.slice(0, 32)}`
      : "Cannot accept request";
    return {
      ...errorEvent("bad_request", `${what}: ${fields.problem}`),
      ref: source.ref as JsonValue,
    };
  }
  const type = source.type;
  if (!isRequestType(type)) {
    return errorEvent(
      typeof type === "string" ? "unknown_type" : "bad_request",
      typeof type === "string"
        ? `Unknown request type "${type.slice(0, 32)}"`
        : `Cannot accept request: "type" must be a string`,
      ref,
    );
  }
  const request: Record<string, unknown> = { type };
  for (const [key, kind] of Object.entries(requestSpec(type).json)) {
    const value = readField(fields, key, kind);
    if (value !== undefined) request[key] = value;
  }
  if (fields.problem !== null) {
    return errorEvent("bad_request", `Bad ${type}: ${fields.problem}`, ref);
  }
  if (ref !== undefined) request.ref = ref;
  return request as ClientRequest;
}

/** Writes a request as one JSON line, newline-terminated. */
export function encodeJsonRequest(request: ClientRequest): string {
  return JSON.stringify(request) + "\n";
}

/** Writes an event as one JSON line, newline-terminated. */
export function encodeJsonEvent(event: ServerEvent): string {
  return JSON.stringify(event) + "\n";
}

/**
 * Every event type, checked by the compiler: a new event missing here is a
 * type error rather than an event clients silently drop.
 */
const EVENT_TYPES = {
  welcome: true,
  message: true,
  action: true,
  private: true,
  join: true,
  leave: true,
  nick: true,
  away: true,
  back: true,
  rooms: true,
  who: true,
  members: true,
  count: true,
  history: true,
  help: true,
  notice: true,
  error: true,
  pong: true,
  ping: true,
  topic: true,
  motd: true,
  bans: true,
  conversation: true,
  bye: true,
  switch: true,
} as const satisfies Record<ServerEvent["type"], true>;

/**
 * Reads one JSON line from the server. Lines that are not JSON objects of a
 * known event type (the text greeting a server sends before `hello`, or an
 * event from a newer server) give `null`, so a client can skip them.
 */
export function decodeJsonEvent(line: string): ServerEvent | null {
  if (!line.startsWith("{")) return null;
  const parsed = parseObject(line);
  if (!parsed.ok) return null;
  const source = parsed.value;
  if (
    typeof source.type !== "string" || !Object.hasOwn(EVENT_TYPES, source.type)
  ) {
    return null;
  }
  return source as unknown as ServerEvent;
}
