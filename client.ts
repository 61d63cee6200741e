/**
 * The terminal client. It speaks the JSON-lines protocol and renders events
 * itself, so it never parses the server's human text. stdin and the socket
 * are read concurrently: in a terminal, raw mode and a small line editor keep
 * incoming lines from clobbering the line being typed; from a pipe, plain
 * lines, so scripts and tests can drive it.
 *
 * If the connection drops it says so, reconnects with backoff and rejoins its
 * room under its nickname, showing only what it missed; after a goodbye that
 * means "do not come back" (kicked, banned, nickname taken over) it says why
 * and stops. Lines typed offline wait, counted in the prompt; a paste goes
 * out at the pace the server announces. Exit code 0 on /quit, Ctrl-D, Ctrl-C
 * and the end of piped input; 1 when the server cannot be reached or sent it
 * away; 2 on bad flags.
 *
 * Run it: `deno run -A client.ts [--host H] [--port P] [--nick N] [--room R]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { PipeTerminal, type Terminal, TtyTerminal } from "./client/terminal.ts";
import {
  Backoff,
  looksLikeHttp,
  looksLikeTls,
  nextStep,
  tlsFailureMessage,
} from "./client/reconnect_policy.ts";
import { announcedPace, SendPacer } from "./client/send_pacer.ts";
import { resumeReplay } from "./client/resume.ts";
import { splitLongRequest } from "./client/long_lines.ts";
import { checkNick, checkRoom, foldKey } from "./wire/names.ts";
import { type ByeCode, parseByeLine } from "./wire/bye.ts";
import { writeAll } from "./wire/write_all.ts";
import {
  type ClientRequest,
  decodeJsonEvent,
  decodeTextRequest,
  encodeJsonRequest,
  isRoomBroadcast,
  LineFramer,
  type ServerEvent,
} from "./protocol.ts";
import {
  NickPalette,
  renderEvent,
  renderHistory,
  tagRoom,
} from "./client/render.ts";
import { RoomView } from "./client/room_view.ts";
import {
  isWhoMore,
  type LastWhoPage,
  lastWhoPage,
  PageCursors,
  takesFreePage,
  whoMoreRequest,
} from "./wire/who_more.ts";
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

/** Environment variable holding the password of the client's nickname. */
export const NICK_PASSWORD_ENV = "TERN_NICK_PASSWORD";

/** Largest event line the client accepts (a history reply can be long). */
const MAX_EVENT_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Lines typed or pasted and not yet sent (offline, or paced): enough for a
 * long paste; past it the client says a line was not kept.
 */
const MAX_PENDING_REQUESTS = 5000;

/**
 * A typed `/who more` waiting to be sent. Which page it asks for is decided
 * when its turn comes, once every `who` asked before it is answered: typed
 * (or piped) ahead of the page before it, it still goes on from that page.
 */
const WHO_MORE: unique symbol = Symbol("/who more");

/** A request waiting to be sent, or a `/who more` to decide then. */
type Pending = ClientRequest | typeof WHO_MORE;

/** How the refs of this client's `who` requests start. */
const WHO_REF = "who-";

/** How long quitting waits for a paste still going out at the server's pace. */
const PASTE_DRAIN_MS = 30_000;

/** Reconnect delays: from 1 s, doubling, to at most 30 s, with jitter. */
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30_000;

/** How long input that ended before login waits for it. */
const LOGIN_WAIT_MS = 10_000;

/** How long /quit waits for the server's goodbye. */
const QUIT_WAIT_MS = 2000;

const encoder = new TextEncoder();

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
  /** When the current connection was welcomed, for the backoff. */
  #welcomedAt: number | null = null;
  /**
   * Requests not yet sent: typed while offline, or waiting for the pace; a
   * `/who more` is decided when its turn comes ({@linkcode WHO_MORE}).
   */
  #pending: Pending[] = [];
  #pacer: SendPacer | null = null;
  /** Lines a second the server allows, as its welcome said. */
  #paceLines = 0;
  /** The longest line the server reads (its welcome's `maxLine`), if said. */
  #maxLine: number | null = null;
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set while a paste is being paced out, to say so once. */
  #pasting = false;
  #writes: Promise<void> = Promise.resolve();
  #quit = new AbortController();
  /** Set once the person asks to leave, before the goodbye is sent. */
  #quitting = false;
  /** Settles when the current connection's read loop ends. */
  #talking: Promise<void> = Promise.resolve();
  #reconnecting = false;
  /** Cuts the wait before the next reconnect short (a new nickname typed). */
  #retryNow: AbortController | null = null;
  /** Set when the client must stop: why, in words. */
  #fatal: string | null = null;
  /** The current connection's goodbye, once it comes. */
  #bye: { code: ByeCode; reason: string } | null = null;
  /** Whether the current connection's first bytes were TLS. */
  #spokeTls = false;
  /** Whether the current connection's first bytes were an HTTP response. */
  #spokeHttp = false;
  /** Newest message id seen per room (fold key), to resume after a reconnect. */
  #lastSeen = new Map<string, number>();
  /** Refs of history pages the person asked for, as opposed to join replays. */
  #historyRef = 0;
  /** The last `who` page shown, which `/who more` goes on from. */
  #lastWho: LastWhoPage | null = null;
  /** `who` requests sent on this connection and not answered yet. */
  #whoAwaited = 0;
  /** Refs of `who` requests, counted: their answers are told apart. */
  #whoRef = 0;
  /**
   * Where the `who` pages this connection was given go on: the server lets
   * a request for the next one through its flood control at once, so the
   * client does not pace it either.
   */
  #whoCursors = new PageCursors();
  #palette = new NickPalette();
  /** The rooms it is in, the current one, and their unread counts. */
  #view = new RoomView();

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
    terminal.confirmQuit = () => this.#quitWarning();
    terminal.completer = (before) => this.#view.complete(before);
  }

  /** Runs until the person quits; resolves to the exit code. */
  async run(): Promise<number> {
    try {
      this.#conn = await this.#connect();
    } catch (error) {
      const words = error instanceof Error ? error.message : String(error);
      // Refused: nothing listens there, the first thing a newcomer meets
      // when the server is not started yet.
      const advice = error instanceof Deno.errors.ConnectionRefused
        ? ": no server is listening there; start one (deno task start) or " +
          "give --host and --port of one that runs"
        : "";
      console.error(
        `client: cannot connect to ${this.#options.hostname}:${this.#options.port}: ${words}${advice}`,
      );
      return 1;
    }
    this.#updatePrompt();
    const input = this.#readInput().catch((error) => {
      this.#terminal.print(`!! input failed: ${String(error)}`);
      this.#quit.abort();
    });
    const backoff = new Backoff({
      minMs: RECONNECT_MIN_MS,
      maxMs: RECONNECT_MAX_MS,
    });
    while (!this.#quit.signal.aborted) {
      const conn = this.#conn;
      this.#bye = null;
      this.#spokeTls = false;
      this.#spokeHttp = false;
      this.#welcomedAt = null;
      if (conn !== null) {
        this.#talking = this.#talk(conn);
        await this.#talking;
      }
      const loggedInMs = this.#welcomedAt === null
        ? 0
        : Date.now() - this.#welcomedAt;
      this.#conn = null;
      this.#loggedIn = false;
      this.#pacer = null;
      clearTimeout(this.#pumpTimer);
      this.#updatePrompt();
      if (this.#quitting || this.#fatal !== null) break;
      if (conn !== null) {
        const step = nextStep({
          bye: this.#bye,
          spokeTls: this.#spokeTls,
          spokeHttp: this.#spokeHttp,
        });
        if (step.action === "stop") {
          this.#fatal = step.message;
          break;
        }
      }
      this.#reconnecting = true;
      const delay = backoff.next(loggedInMs);
      this.#terminal.print(
        `-- Connection lost; reconnecting in ${(delay / 1000).toFixed(1)} s`,
      );
      const retry = new AbortController();
      this.#retryNow = retry;
      await sleep(delay, AbortSignal.any([this.#quit.signal, retry.signal]));
      this.#retryNow = null;
      if (this.#quit.signal.aborted) break;
      try {
        this.#conn = await this.#connect();
      } catch {
        // Counted as a failed attempt; the loop waits longer and tries again.
      }
    }
    this.#quit.abort();
    clearTimeout(this.#pumpTimer);
    await input;
    if (this.#fatal !== null) {
      this.#terminal.print(`-- ${this.#fatal}`);
      this.#terminal.close();
      console.error(`client: ${this.#fatal}`);
      return 1;
    }
    return 0;
  }

  async #connect(): Promise<Deno.Conn> {
    const { hostname, port, tls, caCert } = this.#options;
    if (!tls) {
      const conn = await Deno.connect({ hostname, port });
      // A blank line, which a tern server ignores, makes a TLS server answer
      // at once with an alert, so a plain client on a TLS port finds out.
      this.#send(conn, null);
      return conn;
    }
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
      const words = error instanceof Error ? error.message : String(error);
      throw new Error(tlsFailureMessage(words), { cause: error });
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
    let first = true;
    try {
      while (true) {
        const count = await conn.read(buffer);
        if (first && count !== null) {
          first = false;
          if (looksLikeTls(buffer.subarray(0, count))) {
            this.#spokeTls = true;
            break;
          }
          if (looksLikeHttp(buffer.subarray(0, count))) {
            this.#spokeHttp = true;
            break;
          }
        }
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
      if (!answered && !this.#spokeTls && !this.#spokeHttp) {
        this.#showRefusal(greeting);
      }
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  /** Shows why a server closed before answering: its last text line. */
  #showRefusal(greeting: string[]): void {
    const last = greeting.at(-1);
    if (last === undefined) return;
    const bye = parseByeLine(last);
    if (bye !== null) {
      this.#bye = bye;
      this.#print({ type: "bye", ...bye });
      return;
    }
    this.#print({ type: "notice", text: last.replace(/^\*\*\* /, "") });
  }

  #hello(conn: Deno.Conn): void {
    this.#send(conn, {
      type: "hello",
      nick: this.#nick!,
      // Its user types slash commands: hints name those, not request types.
      hints: "commands",
      ...(this.#room === null ? {} : { room: this.#room }),
      ...(this.#password === null ? {} : { password: this.#password }),
      ...(this.#nickPassword === null ? {} : { identify: this.#nickPassword }),
    });
    // A blank line, which a tern server ignores, ends an HTTP request's
    // head: the web client's port answers at once, and the client says it
    // is the wrong port instead of waiting on it.
    this.#send(conn, null);
  }

  #print(event: ServerEvent): void {
    const color = this.#options.color;
    let lines = renderEvent(event, {
      self: this.#nick ?? "",
      color,
      palette: this.#palette,
    });
    // Another room's line says which room it is from.
    if (isRoomBroadcast(event) && this.#view.isElsewhere(event.room)) {
      lines = tagRoom(lines, event.room, color);
    }
    for (const line of lines) this.#terminal.print(line);
  }

  #onEvent(conn: Deno.Conn, event: ServerEvent): void {
    const self = this.#nick ?? "";
    this.#view.onEvent(event, self);
    switch (event.type) {
      case "welcome":
        this.#nick = event.nick;
        this.#loggedIn = true;
        this.#welcomedAt = Date.now();
        this.#reconnecting = false;
        {
          const pace = announcedPace(event);
          this.#pacer = pace === null ? null : new SendPacer(pace, Date.now());
          this.#paceLines = pace?.lines ?? 0;
          this.#maxLine = typeof event.maxLine === "number" &&
              event.maxLine > 0
            ? event.maxLine
            : null;
        }
        for (const wake of this.#loginWaiters.splice(0)) wake();
        // Nothing asked on a connection before this one is answered here.
        this.#whoAwaited = 0;
        this.#whoCursors = new PageCursors();
        this.#restoreRooms();
        this.#pump();
        break;
      case "join":
        if (event.nick === self) this.#room = event.room;
        break;
      case "switch":
        this.#room = event.room;
        break;
      case "nick":
        if (event.old === self) this.#nick = event.nick;
        break;
      case "message":
      case "action":
        this.#saw(event.room, event.id);
        break;
      case "who":
        this.#lastWho = lastWhoPage(event);
        if (event.next !== undefined) {
          this.#whoCursors.given(event.room, event.next);
        }
        if (this.#answersWho(event.ref)) {
          this.#print(event);
          this.#updatePrompt();
          // A /who more waiting for this page goes on from it.
          this.#pump();
          return;
        }
        break;
      case "history":
        this.#onHistory(event);
        return;
      case "bye":
        this.#bye = { code: event.code, reason: event.reason };
        break;
      case "ping":
        this.#send(conn, { type: "pong", token: event.token });
        return;
      case "error":
        if (this.#onLoginError(conn, event)) return;
        if (this.#answersWho(event.ref)) {
          this.#print(event);
          this.#updatePrompt();
          this.#pump();
          return;
        }
        break;
    }
    this.#print(event);
    this.#updatePrompt();
  }

  /** Whether an answer with `ref` answers one of this client's `who`s. */
  #answersWho(ref: unknown): boolean {
    if (typeof ref !== "string" || !ref.startsWith(WHO_REF)) return false;
    this.#whoAwaited = Math.max(0, this.#whoAwaited - 1);
    return true;
  }

  /** Handles a refused login; returns true when it did. */
  #onLoginError(
    conn: Deno.Conn,
    event: ServerEvent & { type: "error" },
  ): boolean {
    if (this.#loggedIn) return false;
    switch (event.code) {
      case "bad_password": {
        const which = /nickname/.test(event.message) ? "nick" : "server";
        const given = which === "server" ? this.#password : this.#nickPassword;
        // None given yet: the client asks in its own words, not the
        // server's, which speak of hello fields.
        this.#onPasswordRefused(
          conn,
          given === null ? null : event.message,
          which,
        );
        return true;
      }
      case "nick_registered":
        this.#onPasswordRefused(conn, null, "nick");
        return true;
      case "nick_taken":
      case "nick_invalid":
        this.#onNickRefused(conn, event.message);
        return true;
      default:
        return false;
    }
  }

  /**
   * After a reconnect, puts back the rooms the last connection was in: the
   * hello named the current one; the others are joined again (their
   * replays show what was missed), then the current one is current again.
   * They go ahead of anything typed meanwhile.
   */
  #restoreRooms(): void {
    const { others, current } = this.#view.reset();
    if (others.length === 0) return;
    this.#pending.unshift(
      ...others.map((room): ClientRequest => ({ type: "join", room })),
      ...(current === null ? [] : [{ type: "switch", room: current } as const]),
    );
  }

  /** Notes the newest message id seen in a room. */
  #saw(room: string, id: number): void {
    const key = foldKey(room);
    if (id > (this.#lastSeen.get(key) ?? 0)) this.#lastSeen.set(key, id);
  }

  /**
   * Shows a history page. The replay that comes with joining a room the
   * client has already shown is cut to what it has not: after a reconnect
   * the person sees what they missed, not the last lines again.
   */
  #onHistory(event: ServerEvent & { type: "history" }): void {
    const replay = event.reply === undefined && event.ref === undefined;
    const seen = replay ? this.#lastSeen.get(foldKey(event.room)) : undefined;
    const resumed = seen === undefined ? null : resumeReplay(
      event.room,
      event.messages,
      seen,
      event.more === true,
    );
    const messages = resumed?.messages ?? event.messages;
    for (const message of messages) this.#saw(message.room, message.id);
    if (resumed !== null && messages.length === 0) return;
    const shown = { ...event, messages };
    for (
      const line of renderHistory(shown, {
        self: this.#nick ?? "",
        color: this.#options.color,
        palette: this.#palette,
        missed: resumed !== null,
      })
    ) {
      this.#terminal.print(line);
    }
    if (resumed?.earlier) {
      this.#terminal.print(`-- Earlier ones you missed: ${resumed.earlier}`);
    }
  }

  #onNickRefused(conn: Deno.Conn, message: string): void {
    if (this.#reconnecting) {
      // Most likely our own ghost, not yet noticed by the server: retry
      // later. Perhaps someone else's by now: the person may pick another.
      this.#terminal.print(
        `!! ${this.#nick} is still taken (by your last connection, until the ` +
          "server notices it is gone, or by someone else); trying again. " +
          "Type /nick NAME to come back as someone else.",
      );
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

  /**
   * Asks for a password in words (never the protocol's field names);
   * `message` is the server's words for a wrong one, null when none was
   * given yet.
   */
  #onPasswordRefused(
    conn: Deno.Conn,
    message: string | null,
    which: "server" | "nick",
  ): void {
    const need = which === "server"
      ? "This server needs a password"
      : `The nickname ${this.#nick} is registered and needs its password`;
    if (this.#terminal instanceof PipeTerminal) {
      this.#fatal = which === "server"
        ? `${message ?? need} (give it with --password or $${PASSWORD_ENV})`
        : `${message ?? need} (give it with $${NICK_PASSWORD_ENV})`;
      this.#quit.abort();
      conn.close();
      return;
    }
    this.#terminal.print(
      `!! ${message === null ? `${need}.` : `${message}.`} Type it below ` +
        "(it is not shown), " +
        (which === "nick"
          ? "press Enter alone to choose another nickname, or Ctrl-C to leave."
          : "or press Ctrl-C to leave."),
    );
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
    const waiting = this.#pending.length === 0
      ? ""
      : this.#loggedIn
      ? `(${this.#pending.length} to send) `
      : `(${this.#pending.length} queued) `;
    const unread = this.#view.unreadSummary();
    this.#terminal.setPrompt(
      this.#nick === null
        ? "nickname> "
        : `${waiting}${unread === "" ? "" : `${unread} | `}${
          this.#room ?? ""
        } ${this.#nick}> `.trimStart(),
    );
  }

  /** What Ctrl-C says before discarding lines not yet sent; null to quit. */
  #quitWarning(): string | null {
    const count = this.#pending.length;
    if (count === 0) return null;
    return `-- ${count} ${count === 1 ? "line has" : "lines have"} not been ` +
      "sent yet. Press Ctrl-C again to discard and quit, or wait.";
  }

  /** Writes a request (null: a blank line) after those already written. */
  #send(conn: Deno.Conn, request: ClientRequest | null): Promise<void> {
    return this.#writeBytes(
      conn,
      encoder.encode(request === null ? "\n" : encodeJsonRequest(request)),
    );
  }

  /** Writes bytes after those already written. */
  #writeBytes(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
    this.#writes = this.#writes
      .then(() => writeAll(conn, bytes))
      .catch(() => {
        // The read side sees the broken connection and reconnects.
      });
    return this.#writes;
  }

  /**
   * Sends what is pending as fast as the server's announced pace allows,
   * and says so when a paste has to wait. Nothing is dropped: what is not
   * sent stays pending, across reconnects too.
   */
  #pump(): void {
    clearTimeout(this.#pumpTimer);
    const conn = this.#conn;
    if (conn === null || !this.#loggedIn) return;
    while (this.#pending.length > 0) {
      const head = this.#pending[0]!;
      let request: ClientRequest;
      if (head === WHO_MORE) {
        // It goes on from the page before it: not decided until that has
        // come (its answer pumps again).
        if (this.#whoAwaited > 0) break;
        const more = whoMoreRequest(this.#lastWho);
        if (more.type === "error") {
          this.#pending.shift();
          this.#print(more);
          continue;
        }
        request = this.#pending[0] = more;
      } else {
        this.#fitFirstPending();
        request = this.#pending[0] as ClientRequest;
      }
      if (request.type === "who" && request.ref === undefined) {
        request = this.#pending[0] = {
          ...request,
          ref: `${WHO_REF}${++this.#whoRef}`,
        };
      }
      const pacer = this.#pacer;
      const bytes = encoder.encode(encodeJsonRequest(request));
      const free = takesFreePage(this.#whoCursors, request, this.#room);
      if (pacer !== null && !free) {
        const wait = pacer.wait(Date.now(), bytes.length);
        if (wait > 0) {
          if (!this.#pasting) {
            this.#pasting = true;
            this.#terminal.print(
              `-- Sending at the server's pace (${this.#paceLines} lines a second): ` +
                "every line goes, in order",
            );
          }
          this.#pumpTimer = setTimeout(() => this.#pump(), wait);
          this.#updatePrompt();
          return;
        }
        pacer.take(Date.now(), bytes.length);
      }
      this.#pending.shift();
      if (request.type === "who") this.#whoAwaited++;
      this.#writeBytes(conn, bytes);
    }
    this.#pasting = false;
    this.#updatePrompt();
  }

  /**
   * Cuts the next request to send into several when it is longer than the
   * server reads at once, and says so, so no typed text is refused whole.
   */
  #fitFirstPending(): void {
    const maxLine = this.#maxLine;
    const first = this.#pending[0];
    if (maxLine === null || first === undefined || first === WHO_MORE) return;
    const parts = splitLongRequest(first, maxLine);
    if (parts.length < 2) return;
    this.#pending.splice(0, 1, ...parts);
    this.#terminal.print(
      `-- That line is longer than the server takes at once (${maxLine} bytes): ` +
        `it goes as ${parts.length} messages`,
    );
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
    // Piped input that ended still goes out; in a terminal the person
    // pressed Ctrl-C or Ctrl-D, and was asked first if lines were waiting.
    await this.#quitNow(
      { type: "quit" },
      this.#terminal instanceof PipeTerminal ? "send" : "discard",
    );
  }

  /** Handles one typed line; returns true once the person has quit. */
  #onInputLine(line: string): boolean {
    if (this.#asking === "nick" && line === "") {
      // Someone else's registered nickname: pick another instead.
      this.#asking = null;
      this.#nick = null;
      this.#nickPassword = null;
      this.#updatePrompt();
      return false;
    }
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
    if (isWhoMore(line)) return this.#queue(WHO_MORE);
    let request = decodeTextRequest(line);
    if (request === null) return false;
    if (request.type === "error") {
      this.#print(request);
      return false;
    }
    if (request.type === "quit") {
      this.#quitNow(request).catch(() => {});
      return true;
    }
    if (request.type === "nick" && this.#reconnecting) {
      // Not logged in: the next try logs in under it, at once.
      this.#nick = request.nick;
      this.#terminal.print(`-- Coming back as ${request.nick}`);
      this.#updatePrompt();
      this.#retryNow?.abort();
      return false;
    }
    if (request.type === "history") {
      request = { ...request, ref: `history-${++this.#historyRef}` };
    }
    // A line goes to the room the prompt showed when it was typed, even if
    // a switch is still on its way.
    const current = this.#view.current;
    if (
      (request.type === "message" || request.type === "action") &&
      request.room === undefined && current !== null
    ) {
      request = { ...request, room: current };
    }
    return this.#queue(request);
  }

  /** Queues a request to send in its turn; false (not quitting), always. */
  #queue(request: Pending): boolean {
    if (this.#pending.length >= MAX_PENDING_REQUESTS) {
      this.#terminal.print(
        `!! ${this.#pending.length} lines are already waiting; that one was not kept`,
      );
      return false;
    }
    this.#pending.push(request);
    if (this.#loggedIn) this.#pump();
    else this.#updatePrompt();
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

  /** Resolves once nothing is pending, on quit, or after `ms`. */
  async #drainedOrTimeout(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (
      this.#pending.length > 0 && this.#loggedIn && Date.now() < deadline &&
      !this.#quit.signal.aborted
    ) {
      await sleep(50, this.#quit.signal);
    }
  }

  /** Leaves as if the person typed /quit (for signals). */
  quit(): void {
    this.#quitNow().catch(() => this.#quit.abort());
  }

  /**
   * Says goodbye once what is pending has gone out (or, with `pending`
   * "discard", at once, dropping it), waits briefly for the server to close
   * the connection after its own goodbye, and stops.
   */
  async #quitNow(
    request: ClientRequest = { type: "quit" },
    pending: "send" | "discard" = "send",
  ): Promise<void> {
    if (this.#quitting) return;
    this.#quitting = true;
    if (pending === "discard") {
      this.#pending = [];
      clearTimeout(this.#pumpTimer);
    }
    // Input that ended before login still goes out: wait for the welcome.
    // With nothing to send, wait only briefly for a login on its way, so
    // the goodbye is a clean one; and never while a password is asked for,
    // as no welcome comes until it is typed.
    if (
      !this.#loggedIn && this.#nick !== null && this.#fatal === null &&
      this.#asking === null &&
      (this.#pending.length > 0 || this.#conn !== null)
    ) {
      await this.#loginOrTimeout(
        this.#pending.length > 0 ? LOGIN_WAIT_MS : QUIT_WAIT_MS,
      );
    }
    await this.#drainedOrTimeout(PASTE_DRAIN_MS);
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
  if (values.nick !== undefined) {
    const checked = checkNick(values.nick);
    if (!checked.ok) return `--nick ${values.nick}: ${checked.reason}`;
  }
  let room: string | null = null;
  if (values.room !== undefined) {
    const checked = checkRoom(values.room);
    if (!checked.ok) return `--room ${values.room}: ${checked.reason}`;
    room = checked.name;
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
    room,
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
