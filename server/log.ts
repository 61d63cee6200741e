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

/**
 * Where log lines go, so tests can capture them. Returns false when the line
 * was dropped (the destination is slow or gone); the logger counts those.
 */
export type LogSink = (line: string) => unknown;

/** What a {@linkcode PipeSink} writes to: stderr, or a stand-in in tests. */
export interface LogWriter {
  /**
   * Like `Deno.stderr.write`: may take only part of the bytes, and says how
   * many.
   */
  write(bytes: Uint8Array): Promise<number>;
}

/** Log bytes held while the reader of stderr is slow, by default. */
export const DEFAULT_LOG_BUFFER_BYTES = 256 * 1024;

const encoder = new TextEncoder();

/**
 * Log lines to a pipe or terminal without ever waiting on it. Lines queue in
 * memory (up to a bound) and one asynchronous write drains them, so a reader
 * that stops reading (a full pipe) or goes away (a closed pipe) costs dropped
 * lines, never a blocked event loop or an exception. A synchronous write
 * would stop the whole server on a full pipe, and one that throws on a
 * closed pipe takes down whatever was logging.
 */
export class PipeSink {
  /** Bytes held while a write waits; lines past it are dropped. */
  readonly maxQueuedBytes: number;
  #writer: LogWriter;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing = false;
  #broken = false;
  #lost = 0;
  #idleWaiters: Array<() => void> = [];

  /**
   * Writes nothing until the first line comes.
   * @param writer where bytes go @default {Deno.stderr}
   * @param maxQueuedBytes lines held while a write waits; past it they drop
   */
  constructor(
    writer: LogWriter = Deno.stderr,
    maxQueuedBytes: number = DEFAULT_LOG_BUFFER_BYTES,
  ) {
    this.#writer = writer;
    this.maxQueuedBytes = maxQueuedBytes;
  }

  /** Whether a write has failed: the reader is gone and lines now drop. */
  get broken(): boolean {
    return this.#broken;
  }

  /** Lines taken but then lost because the pipe broke under them. */
  get lost(): number {
    return this.#lost;
  }

  /** Bytes waiting to be written. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Queues a line; false when it was dropped. Never throws, never waits. */
  readonly sink: LogSink = (line: string): boolean => {
    if (this.#broken) return false;
    const bytes = encoder.encode(line + "\n");
    if (this.#queuedBytes + bytes.length > this.maxQueuedBytes) return false;
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    if (!this.#writing) this.#pump();
    return true;
  };

  /**
   * Resolves once everything queued is written, the pipe broke, or `ms`
   * passed: for the last lines before the process exits.
   */
  drain(ms: number): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#idleWaiters.push(done);
    });
  }

  #pump(): void {
    const chunk = this.#queue.shift();
    if (chunk === undefined || this.#broken) {
      this.#writing = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
      return;
    }
    this.#writing = true;
    let promise: Promise<number>;
    try {
      promise = this.#writer.write(chunk);
    } catch {
      this.#fail();
      return;
    }
    promise.then(
      (count) => {
        if (count < chunk.length) {
          this.#queue.unshift(chunk.subarray(count));
          this.#queuedBytes -= count;
        } else {
          this.#queuedBytes -= chunk.length;
        }
        this.#pump();
      },
      () => this.#fail(),
    );
  }

  #fail(): void {
    // The line in flight and every queued one are lost.
    this.#lost += 1 + this.#queue.length;
    this.#broken = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#pump();
  }
}

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
  #pipe: PipeSink | null = null;
  #dropped = 0;
  #droppedSinceNotice = 0;

  /**
   * A logger writing lines of `format` at `level` and above to `sink`.
   *
   * @param level lowest level written
   * @param format line format
   * @param sink where lines go: a function, or a {@linkcode PipeSink}
   *   @default a {@linkcode PipeSink} on stderr
   */
  constructor(
    level: LogLevel = "info",
    format: LogFormat = "text",
    sink: LogSink | PipeSink = new PipeSink(),
  ) {
    this.level = level;
    this.format = format;
    if (sink instanceof PipeSink) {
      this.#pipe = sink;
      this.#sink = sink.sink;
    } else {
      this.#sink = sink;
    }
  }

  /**
   * Waits up to `ms` for lines still queued for a pipe to be written: the
   * last lines before the process exits.
   */
  flush(ms: number): Promise<void> {
    return this.#pipe?.drain(ms) ?? Promise.resolve();
  }

  /** Lines dropped so far because the destination was slow or gone. */
  get dropped(): number {
    return this.#dropped + (this.#pipe?.lost ?? 0);
  }

  /**
   * Records `event` with its fields, if `level` is enabled. Never throws and
   * never waits: a line the sink cannot take is counted, and the next line
   * that gets through is preceded by one saying how many were lost.
   */
  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.level]) return;
    const time = new Date().toISOString();
    if (this.#droppedSinceNotice > 0) {
      const count = this.#droppedSinceNotice;
      const notice = this.#format(time, "warn", "log_lines_dropped", { count });
      if (this.#write(notice)) this.#droppedSinceNotice -= count;
    }
    if (!this.#write(this.#format(time, level, event, fields))) {
      this.#dropped++;
      this.#droppedSinceNotice++;
    }
  }

  #write(line: string): boolean {
    try {
      return this.#sink(line) !== false;
    } catch {
      return false;
    }
  }

  #format(
    time: string,
    level: LogLevel,
    event: string,
    fields: LogFields,
  ): string {
    if (this.format === "json") {
      return JSON.stringify({ time, level, event, ...fields });
    }
    let line = `${time} ${level.toUpperCase()} ${event}`;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${textValue(value)}`;
    }
    return line;
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
