/**
 * The terminal client. It speaks the JSON-lines protocol and renders events
 * itself, so it never parses the server's human text. stdin and the socket
 * are read concurrently: in a terminal, raw mode and a small line editor keep
 * incoming lines from clobbering the line being typed; from a pipe, plain
 * lines, so scripts and tests can drive it.
 *
 * If the connection drops it says so, reconnects with backoff and rejoins its
 * room under its nickname. Exit code 0 on /quit, Ctrl-D, Ctrl-C and the end of
 * piped input; 1 when the server cannot be reached; 2 on bad flags.
 *
 * Run it: `deno run -A client.ts [--host H] [--port P] [--nick N] [--room R]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LineEditor } from "./client/line_editor.ts";
import { writeAll } from "./wire/write_all.ts";
import {
  type ClientRequest,
  decodeJsonEvent,
  decodeTextRequest,
  encodeJsonRequest,
  LineFramer,
  type ServerEvent,
} from "./protocol.ts";
import { renderEvent } from "./client/render.ts";
import {
  DEFAULT_HOST,
  DEFAULT_PORT,
  firstLine,
  PASSWORD_ENV,
  readEnv,
} from "./wire/endpoint.ts";

/** How the client was asked to run. */
export interface ClientOptions {
  /** The server's host name or address. */
  hostname: string;
  /** The server's port. */
  port: number;
  /** The nickname to log in with; null asks at the prompt. */
  nick: string | null;
  /** The first room; null for the lobby. */
  room: string | null;
  /** Whether to color the output. */
  color: boolean;
  /** Connect with TLS. */
  tls: boolean;
  /** A CA certificate (PEM) to trust besides the system's, for TLS. */
  caCert: string | null;
  /** The server password, if the server needs one. */
  password: string | null;
  /** The password of a registered nickname, to identify on every connect. */
  nickPassword: string | null;
}

/** Where input comes from and output goes. */
export interface Terminal {
  /** Prints a line above the input line. */
  print(line: string): void;
  /** Sets the prompt shown before the input line; `masked` hides input. */
  setPrompt(prompt: string, masked?: boolean): void;
  /** Input lines; ends on quit (Ctrl-C, Ctrl-D, end of piped input). */
  lines(): AsyncIterable<string>;
  /** Restores the terminal. */
  close(): void;
}

/** Environment variable holding the password of the client's nickname. */
export const NICK_PASSWORD_ENV = "TERN_NICK_PASSWORD";

/** Largest event line the client accepts (a history reply can be long). */
const MAX_EVENT_LINE_BYTES = 4 * 1024 * 1024;

/** Lines typed while offline that are sent once logged in. */
const MAX_PENDING_REQUESTS = 100;

/** Reconnect delays: from 1 s, doubling, to at most 30 s, with jitter. */
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30_000;

/** How long input that ended before login waits for it. */
const LOGIN_WAIT_MS = 10_000;

/** How long /quit waits for the server's goodbye. */
const QUIT_WAIT_MS = 2000;

const encoder = new TextEncoder();

function writeOut(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    offset += Deno.stdout.writeSync(bytes.subarray(offset));
  }
}

/** Plain line I/O for pipes: what scripts and tests drive. */
export class PipeTerminal implements Terminal {
  /** Prints one line. */
  print(line: string): void {
    writeOut(line + "\n");
  }

  /** Pipes show no prompt. */
  setPrompt(_prompt: string, _masked?: boolean): void {}

  /** Lines from stdin until it ends. */
  async *lines(): AsyncIterable<string> {
    const framer = new LineFramer(MAX_EVENT_LINE_BYTES);
    const buffer = new Uint8Array(16 * 1024);
    while (true) {
      const count = await Deno.stdin.read(buffer);
      const frames = count === null
        ? framer.end()
        : framer.push(buffer.subarray(0, count));
      for (const frame of frames) {
        if (frame.kind === "line") yield frame.text;
      }
      if (count === null) return;
    }
  }

  /** Nothing to restore. */
  close(): void {}
}

/** A raw-mode terminal with the line editor. */
export class TtyTerminal implements Terminal {
  #editor = new LineEditor();
  #prompt = "> ";
  #masked = false;
  #raw = false;

  /** Puts stdin in raw mode so keys arrive one at a time. */
  constructor() {
    Deno.stdin.setRaw(true);
    this.#raw = true;
  }

  #redraw(): void {
    writeOut(this.#editor.render(this.#prompt, this.#columns(), this.#masked));
  }

  #columns(): number {
    try {
      return Deno.consoleSize().columns;
    } catch {
      return 80;
    }
  }

  /** Prints above the input line, then redraws the unfinished input. */
  print(line: string): void {
    writeOut(`\r\x1b[2K${line}\r\n`);
    this.#redraw();
  }

  /** Changes the prompt and redraws; a masked line shows `*` per key. */
  setPrompt(prompt: string, masked = false): void {
    this.#prompt = prompt;
    this.#masked = masked;
    this.#editor.secret = masked;
    this.#redraw();
  }

  /** Submitted lines, until Ctrl-C, or Ctrl-D on an empty line. */
  async *lines(): AsyncIterable<string> {
    const stream = new TextDecoder();
    const buffer = new Uint8Array(1024);
    this.#redraw();
    while (true) {
      const count = await Deno.stdin.read(buffer);
      if (count === null) return;
      const keys = stream.decode(buffer.subarray(0, count), { stream: true });
      for (const action of this.#editor.feed(keys)) {
        if (action.type === "quit") {
          writeOut("\r\x1b[2K");
          return;
        }
        if (action.type === "submit") {
          writeOut("\r\x1b[2K");
          yield action.line;
        }
      }
      this.#redraw();
    }
  }

  /** Leaves raw mode. */
  close(): void {
    if (!this.#raw) return;
    this.#raw = false;
    writeOut("\r\x1b[2K");
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // stdin already gone.
    }
  }
}

/** A sleep that {@linkcode AbortSignal} can cut short. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/** One client: a connection that comes back, and a person typing. */
export class ChatClient {
  #options: ClientOptions;
  #terminal: Terminal;
  #nick: string | null;
  #room: string | null;
  #password: string | null;
  #nickPassword: string | null;
  /** What the next line typed is: a password, not a message. */
  #asking: "server" | "nick" | null = null;
  #conn: Deno.Conn | null = null;
  #loggedIn = false;
  #pending: ClientRequest[] = [];
  #writes: Promise<void> = Promise.resolve();
  #quit = new AbortController();
  /** Set once the person asks to leave, before the goodbye is sent. */
  #quitting = false;
  /** Settles when the current connection's read loop ends. */
  #talking: Promise<void> = Promise.resolve();
  #reconnecting = false;
  /** Set when a refused nickname cannot be retried (piped input). */
  #fatal: string | null = null;

  /**
   * A client that has not connected yet; `run` connects.
   *
   * @param options where to connect and as whom
   * @param terminal where to read input and print events
   */
  constructor(options: ClientOptions, terminal: Terminal) {
    this.#options = options;
    this.#terminal = terminal;
    this.#nick = options.nick;
    this.#room = options.room;
    this.#password = options.password;
    this.#nickPassword = options.nickPassword;
  }

  /** Runs until the person quits; resolves to the exit code. */
  async run(): Promise<number> {
    try {
      this.#conn = await this.#connect();
    } catch (error) {
      console.error(
        `client: cannot connect to ${this.#options.hostname}:${this.#options.port}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
      return 1;
    }
    this.#updatePrompt();
    const input = this.#readInput().catch((error) => {
      this.#terminal.print(`!! input failed: ${String(error)}`);
      this.#quit.abort();
    });
    let backoffMs = RECONNECT_MIN_MS;
    while (!this.#quit.signal.aborted) {
      const conn = this.#conn;
      if (conn !== null) {
        this.#talking = this.#talk(conn);
        await this.#talking;
      }
      this.#conn = null;
      this.#loggedIn = false;
      if (this.#quitting || this.#fatal !== null) break;
      this.#reconnecting = true;
      const delay = Math.round(backoffMs * (0.8 + Math.random() * 0.4));
      this.#terminal.print(
        `-- Connection lost; reconnecting in ${(delay / 1000).toFixed(1)} s`,
      );
      await sleep(delay, this.#quit.signal);
      backoffMs = Math.min(backoffMs * 2, RECONNECT_MAX_MS);
      if (this.#quit.signal.aborted) break;
      try {
        this.#conn = await this.#connect();
        backoffMs = RECONNECT_MIN_MS;
      } catch {
        // Counted as a failed attempt; the loop waits longer and tries again.
      }
    }
    this.#quit.abort();
    await input;
    if (this.#fatal !== null) {
      console.error(`client: ${this.#fatal}`);
      return 1;
    }
    return 0;
  }

  async #connect(): Promise<Deno.Conn> {
    const { hostname, port, tls, caCert } = this.#options;
    if (!tls) return await Deno.connect({ hostname, port });
    const conn = await Deno.connectTls({
      hostname,
      port,
      ...(caCert === null ? {} : { caCerts: [caCert] }),
    });
    // Settle the handshake here, so a certificate the client does not trust
    // is a failure to connect rather than a connection that drops later.
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return conn;
  }

  /** Logs in on `conn` and shows its events until it closes. */
  async #talk(conn: Deno.Conn): Promise<void> {
    if (this.#nick !== null) this.#hello(conn);
    const framer = new LineFramer(MAX_EVENT_LINE_BYTES);
    const buffer = new Uint8Array(64 * 1024);
    // The server's text lines before its first JSON reply: a greeting,
    // or why it turned us away, which is worth showing if it closes.
    const greeting: string[] = [];
    let answered = false;
    try {
      while (true) {
        const count = await conn.read(buffer);
        const frames = count === null
          ? framer.end()
          : framer.push(buffer.subarray(0, count));
        for (const frame of frames) {
          if (frame.kind !== "line") continue;
          const event = decodeJsonEvent(frame.text);
          if (event !== null) {
            answered = true;
            this.#onEvent(conn, event);
          } else if (!answered && greeting.length < 10) {
            greeting.push(frame.text);
          }
        }
        if (count === null) break;
      }
    } catch (error) {
      if (!answered) greeting.push(`*** ${firstLine(error)}`);
    } finally {
      if (!answered) {
        for (const line of greeting.slice(-1)) {
          for (
            const text of renderEvent(
              { type: "notice", text: line.replace(/^\*\*\* /, "") },
              { self: this.#nick ?? "", color: this.#options.color },
            )
          ) {
            this.#terminal.print(text);
          }
        }
      }
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  #hello(conn: Deno.Conn): void {
    this.#send(conn, {
      type: "hello",
      nick: this.#nick!,
      ...(this.#room === null ? {} : { room: this.#room }),
      ...(this.#password === null ? {} : { password: this.#password }),
      ...(this.#nickPassword === null ? {} : { identify: this.#nickPassword }),
    });
  }

  #onEvent(conn: Deno.Conn, event: ServerEvent): void {
    const self = this.#nick ?? "";
    switch (event.type) {
      case "welcome":
        this.#nick = event.nick;
        this.#loggedIn = true;
        this.#reconnecting = false;
        for (const request of this.#pending.splice(0)) {
          this.#send(conn, request);
        }
        for (const wake of this.#loginWaiters.splice(0)) wake();
        break;
      case "join":
        if (event.nick === self) this.#room = event.room;
        break;
      case "nick":
        if (event.old === self) this.#nick = event.nick;
        break;
      case "ping":
        this.#send(conn, { type: "pong", token: event.token });
        return;
      case "error":
        if (!this.#loggedIn && event.code === "bad_password") {
          const which = /nickname/.test(event.message) ? "nick" : "server";
          this.#onPasswordRefused(conn, event.message, which);
          return;
        }
        if (!this.#loggedIn && event.code === "nick_registered") {
          this.#onPasswordRefused(conn, event.message, "nick");
          return;
        }
        if (
          !this.#loggedIn &&
          (event.code === "nick_taken" || event.code === "nick_invalid")
        ) {
          this.#onNickRefused(conn, event.message);
          return;
        }
        break;
    }
    for (
      const line of renderEvent(event, { self, color: this.#options.color })
    ) {
      this.#terminal.print(line);
    }
    this.#updatePrompt();
  }

  #onNickRefused(conn: Deno.Conn, message: string): void {
    if (this.#reconnecting) {
      // Most likely our own ghost, not yet noticed by the server: retry later.
      this.#terminal.print(`!! ${message}`);
      conn.close();
    } else if (this.#terminal instanceof PipeTerminal) {
      this.#fatal = message;
      this.#quit.abort();
      conn.close();
    } else {
      this.#terminal.print(`!! ${message}`);
      this.#nick = null;
      this.#updatePrompt();
    }
  }

  #onPasswordRefused(
    conn: Deno.Conn,
    message: string,
    which: "server" | "nick",
  ): void {
    if (this.#terminal instanceof PipeTerminal) {
      this.#fatal = which === "server"
        ? `${message} (give it with --password or $${PASSWORD_ENV})`
        : `${message} (give it with $${NICK_PASSWORD_ENV})`;
      this.#quit.abort();
      conn.close();
      return;
    }
    this.#terminal.print(`!! ${message}`);
    if (which === "server") this.#password = null;
    else this.#nickPassword = null;
    this.#asking = which;
    this.#updatePrompt();
  }

  #updatePrompt(): void {
    if (this.#asking !== null) {
      this.#terminal.setPrompt(
        this.#asking === "server"
          ? "server password> "
          : `password for ${this.#nick}> `,
        true,
      );
      return;
    }
    this.#terminal.setPrompt(
      this.#nick === null
        ? "nickname> "
        : `${this.#room ?? ""} ${this.#nick}> `.trimStart(),
    );
  }

  #send(conn: Deno.Conn, request: ClientRequest): Promise<void> {
    const bytes = encoder.encode(encodeJsonRequest(request));
    this.#writes = this.#writes
      .then(() => writeAll(conn, bytes))
      .catch(() => {
        // The read side sees the broken connection and reconnects.
      });
    return this.#writes;
  }

  /** Turns typed lines into requests until the person quits. */
  async #readInput(): Promise<void> {
    const quitting = new Promise<IteratorResult<string>>((resolve) =>
      this.#quit.signal.addEventListener(
        "abort",
        () => resolve({ done: true, value: undefined }),
        { once: true },
      )
    );
    const lines = this.#terminal.lines()[Symbol.asyncIterator]();
    while (!this.#quit.signal.aborted) {
      const next = await Promise.race([lines.next(), quitting]);
      if (next.done) break;
      if (this.#onInputLine(next.value)) return;
    }
    await this.#quitNow();
  }

  /** Handles one typed line; returns true once the person has quit. */
  #onInputLine(line: string): boolean {
    if (this.#asking !== null) {
      if (this.#asking === "server") this.#password = line;
      else this.#nickPassword = line;
      this.#asking = null;
      this.#updatePrompt();
      if (this.#conn !== null && this.#nick !== null) this.#hello(this.#conn);
      return false;
    }
    if (this.#nick === null) {
      const nick = line.trim();
      if (nick === "") return false;
      this.#nick = nick;
      this.#updatePrompt();
      if (this.#conn !== null) this.#hello(this.#conn);
      return false;
    }
    const request = decodeTextRequest(line);
    if (request === null) return false;
    if (request.type === "error") {
      for (
        const text of renderEvent(request, {
          self: this.#nick,
          color: this.#options.color,
        })
      ) {
        this.#terminal.print(text);
      }
      return false;
    }
    if (request.type === "quit") {
      this.#quitNow(request).catch(() => {});
      return true;
    }
    if (this.#loggedIn && this.#conn !== null) {
      this.#send(this.#conn, request);
    } else if (this.#pending.length < MAX_PENDING_REQUESTS) {
      this.#pending.push(request);
    } else {
      this.#terminal.print("!! Not connected; that line was not sent");
    }
    return false;
  }

  #loginWaiters: Array<() => void> = [];

  /** Resolves at the next welcome, on quit, or after `ms`. */
  async #loginOrTimeout(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#loginWaiters.push(resolve);
      timer = setTimeout(resolve, ms);
      this.#quit.signal.addEventListener("abort", () => resolve(), {
        once: true,
      });
    });
    clearTimeout(timer);
  }

  /** Leaves as if the person typed /quit (for signals). */
  quit(): void {
    this.#quitNow().catch(() => this.#quit.abort());
  }

  /**
   * Says goodbye, waits briefly for the server to close the connection
   * after its own goodbye, and stops.
   */
  async #quitNow(
    request: ClientRequest = { type: "quit" },
  ): Promise<void> {
    if (this.#quitting) return;
    this.#quitting = true;
    // Input that ended before login still goes out: wait for the welcome.
    if (!this.#loggedIn && this.#nick !== null && this.#fatal === null) {
      await this.#loginOrTimeout(LOGIN_WAIT_MS);
    }
    const conn = this.#conn;
    if (conn !== null && this.#loggedIn) {
      await this.#send(conn, request);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#talking,
        new Promise<void>((resolve) =>
          timer = setTimeout(resolve, QUIT_WAIT_MS)
        ),
      ]);
      clearTimeout(timer);
    }
    this.#quit.abort();
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
  }
}

const USAGE = `Usage: deno run -A client.ts [options]

  --host HOST    server address (default ${DEFAULT_HOST})
  --port PORT    server port (default ${DEFAULT_PORT})
  --nick NICK    nickname; asked for when not given
  --room ROOM    room to join instead of #lobby
  --tls          connect with TLS
  --ca FILE      trust this CA certificate (PEM) for --tls
  --password PW  server password (or $${PASSWORD_ENV}; asked for in a terminal)
                 a registered nickname's password comes from $${NICK_PASSWORD_ENV},
                 or is asked for in a terminal
  --no-color     plain output (also when NO_COLOR is set)
  --help         show this help

Type /help once connected for the chat's commands.`;

/** Parses the command line; a string is the one-line error for bad flags. */
export function parseClientArgs(
  args: string[],
): ClientOptions & { help: boolean } | string {
  let values;
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        nick: { type: "string" },
        room: { type: "string" },
        tls: { type: "boolean" },
        ca: { type: "string" },
        password: { type: "string" },
        "no-color": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    return firstLine(error);
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return `--port must be a whole number from 1 to 65535; got "${values.port}"`;
  }
  let caCert: string | null = null;
  if (values.ca !== undefined) {
    if (values.tls !== true) return "--ca needs --tls";
    try {
      caCert = Deno.readTextFileSync(values.ca);
    } catch (error) {
      return `--ca ${values.ca}: ${firstLine(error)}`;
    }
  }
  return {
    help: values.help === true,
    hostname: values.host ?? DEFAULT_HOST,
    port,
    nick: values.nick ?? null,
    room: values.room ?? null,
    color: values["no-color"] !== true && readEnv("NO_COLOR") === undefined &&
      Deno.stdout.isTerminal(),
    tls: values.tls === true,
    caCert,
    password: values.password ?? readEnv(PASSWORD_ENV) ?? null,
    nickPassword: readEnv(NICK_PASSWORD_ENV) ?? null,
  };
}

/** Runs the client from the command line. */
export async function main(args: string[]): Promise<number> {
  const options = parseClientArgs(args);
  if (typeof options === "string") {
    console.error(`client: ${options} (see --help)`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const terminal = Deno.stdin.isTerminal()
    ? new TtyTerminal()
    : new PipeTerminal();
  const client = new ChatClient(options, terminal);
  const quit = () => client.quit();
  Deno.addSignalListener("SIGINT", quit);
  Deno.addSignalListener("SIGTERM", quit);
  try {
    return await client.run();
  } finally {
    Deno.removeSignalListener("SIGINT", quit);
    Deno.removeSignalListener("SIGTERM", quit);
    terminal.close();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
