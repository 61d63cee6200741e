/**
 * Structured logging: one line per notable event on stderr, as `key=value`
 * text for people or JSON for log collectors. Secrets never reach it: callers
 * pass only the fields that are safe to record.
 *
 * @module
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Line format. */
export type LogFormat = "text" | "json";

/** Values a log field may hold. */
export type LogFields = Record<string, string | number | boolean | undefined>;

const LEVEL_RANK: Record<LogLevel, number> = {
  debug: 0,
  info: 1,
  warn: 2,
  error: 3,
};

/** The levels, for validating a flag. */
export const LOG_LEVELS: readonly LogLevel[] = [
  "debug",
  "info",
  "warn",
  "error",
];

/** Where log lines go, so tests can capture them. */
export type LogSink = (line: string) => void;

const stderrEncoder = new TextEncoder();

/** Writes a line to stderr synchronously, so nothing is lost on exit. */
export const stderrSink: LogSink = (line: string): void => {
  Deno.stderr.writeSync(stderrEncoder.encode(line + "\n"));
};

/** Quotes a text value only when it needs it, so plain values stay greppable. */
function textValue(value: string | number | boolean): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** A leveled, formatted logger. */
export class Logger {
  /** The lowest level written. */
  readonly level: LogLevel;
  /** Plain `key=value` text, or one JSON object per line. */
  readonly format: LogFormat;
  #sink: LogSink;

  /**
   * A logger writing lines of `format` at `level` and above to `sink`.
   *
   * @param level lowest level written
   * @param format line format
   * @param sink where lines go
   */
  constructor(
    level: LogLevel = "info",
    format: LogFormat = "text",
    sink: LogSink = stderrSink,
  ) {
    this.level = level;
    this.format = format;
    this.#sink = sink;
  }

  /** Records `event` with its fields, if `level` is enabled. */
  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.level]) return;
    const time = new Date().toISOString();
    if (this.format === "json") {
      this.#sink(JSON.stringify({ time, level, event, ...fields }));
      return;
    }
    let line = `${time} ${level.toUpperCase()} ${event}`;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${textValue(value)}`;
    }
    this.#sink(line);
  }

  /** Records at debug level. */
  debug(event: string, fields?: LogFields): void {
    this.log("debug", event, fields);
  }

  /** Records at info level. */
  info(event: string, fields?: LogFields): void {
    this.log("info", event, fields);
  }

  /** Records at warn level. */
  warn(event: string, fields?: LogFields): void {
    this.log("warn", event, fields);
  }

  /** Records at error level. */
  error(event: string, fields?: LogFields): void {
    this.log("error", event, fields);
  }
}

/** A logger that writes nothing, for tests that do not look at logs. */
export const silentLogger: Logger = new Logger("error", "text", () => {});

/** A short description of any thrown value, safe to log. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
