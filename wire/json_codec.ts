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
  type EventType,
  type ServerEvent,
} from "./events.ts";

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
}

/** Copies `value` into `target[key]` only when it is defined. */
function withOptional<T extends object>(
  target: T,
  key: string,
  value: string | undefined,
): T {
  if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  return target;
}

/**
 * Reads one JSON-mode line into a request, validating every field; a bad line
 * becomes an error event naming the problem (and echoing `ref` when it could
 * be read), never an exception.
 */
export function decodeJsonRequest(line: string): ClientRequest | ErrorEvent {
  const parsed = parseObject(line);
  if (!parsed.ok) return parsed.error;
  const source = parsed.value;
  const fields = new FieldReader(source);
  const ref = fields.optionalString("ref");
  const type = source.type;
  let request: ClientRequest;
  switch (type) {
    case "hello":
      request = withOptional(
        withOptional(
          { type, nick: fields.string("nick") },
          "room",
          fields.optionalString("room"),
        ),
        "password",
        fields.optionalString("password"),
      );
      request = withOptional(
        request,
        "identify",
        fields.optionalString("identify"),
      );
      break;
    case "register":
      request = { type, password: fields.string("password") };
      break;
    case "identify":
      request = withOptional(
        { type, password: fields.string("password") },
        "nick",
        fields.optionalString("nick"),
      );
      break;
    case "drop":
      request = withOptional({ type }, "nick", fields.optionalString("nick"));
      break;
    case "history": {
      const history: ClientRequest & { type: "history" } = { type };
      const room = fields.optionalString("room");
      const other = fields.optionalString("with");
      const before = fields.optionalCount("before");
      const limit = fields.optionalCount("limit");
      if (room !== undefined) history.room = room;
      if (other !== undefined) history.with = other;
      if (before !== undefined) history.before = before;
      if (limit !== undefined) history.limit = limit;
      request = history;
      break;
    }
    case "pass":
    case "oper":
      request = { type, password: fields.string("password") };
      break;
    case "pong":
      request = { type, token: fields.string("token") };
      break;
    case "kick":
      request = withOptional(
        { type, nick: fields.string("nick") },
        "reason",
        fields.optionalString("reason"),
      );
      break;
    case "ban":
      request = withOptional(
        withOptional(
          { type, target: fields.string("target") },
          "duration",
          fields.optionalString("duration"),
        ),
        "reason",
        fields.optionalString("reason"),
      );
      break;
    case "unban":
      request = { type, target: fields.string("target") };
      break;
    case "mute":
    case "unmute":
      request = { type, nick: fields.string("nick") };
      break;
    case "topic":
    case "motd":
      request = withOptional({ type }, "text", fields.optionalString("text"));
      break;
    case "message":
    case "action":
      request = { type, text: fields.string("text") };
      break;
    case "private":
      request = { type, to: fields.string("to"), text: fields.string("text") };
      break;
    case "nick":
      request = { type, nick: fields.string("nick") };
      break;
    case "join":
      request = { type, room: fields.string("room") };
      break;
    case "who": {
      const who: ClientRequest & { type: "who" } = { type };
      const room = fields.optionalString("room");
      const after = fields.optionalString("after");
      const limit = fields.optionalCount("limit");
      if (room !== undefined) who.room = room;
      if (after !== undefined) who.after = after;
      if (limit !== undefined) who.limit = limit;
      request = who;
      break;
    }
    case "away":
    case "quit":
      request = withOptional(
        { type },
        "reason",
        fields.optionalString("reason"),
      );
      break;
    case "ping":
      request = withOptional({ type }, "token", fields.optionalString("token"));
      break;
    case "part":
    case "rooms":
    case "back":
    case "help":
    case "bans":
      request = { type };
      break;
    default:
      return errorEvent(
        typeof type === "string" ? "unknown_type" : "bad_request",
        typeof type === "string"
          ? `Unknown request type "${type.slice(0, 32)}"`
          : `Cannot accept request: "type" must be a string`,
        ref,
      );
  }
  if (fields.problem !== null) {
    return errorEvent("bad_request", `Bad ${type}: ${fields.problem}`, ref);
  }
  return withOptional(request, "ref", ref);
}

/** Writes a request as one JSON line, newline-terminated. */
export function encodeJsonRequest(request: ClientRequest): string {
  return JSON.stringify(request) + "\n";
}

/** Writes an event as one JSON line, newline-terminated. */
export function encodeJsonEvent(event: ServerEvent): string {
  return JSON.stringify(event) + "\n";
}

const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>([
  "welcome",
  "message",
  "action",
  "private",
  "join",
  "leave",
  "nick",
  "away",
  "back",
  "rooms",
  "who",
  "members",
  "history",
  "help",
  "notice",
  "error",
  "pong",
  "ping",
  "topic",
  "motd",
  "bans",
  "conversation",
  "bye",
]);

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
  if (typeof source.type !== "string" || !EVENT_TYPES.has(source.type)) {
    return null;
  }
  return source as unknown as ServerEvent;
}
