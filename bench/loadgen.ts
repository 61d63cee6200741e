/**
 * The load generator: loopback clients that log in, read in 64 KiB chunks,
 * and count and time every benchmark message they receive; senders that keep
 * a bounded window of messages in flight or send at a fixed rate.
 *
 * It is built to cost little, because on a small machine it shares the CPUs
 * with the server it measures: one read per chunk, one clock reading per
 * chunk, lines split by byte search, message headers parsed from bytes, and
 * no string made from a received line unless it is a rare control line.
 *
 * @module
 */

import { Histogram } from "./stats.ts";
import {
  containsBytes,
  type LoginOptions,
  type ParsedMessage,
  payload,
  type Protocol,
} from "./protocol.ts";
import { ChunkScanner, type ScanSink } from "./scanner.ts";
import {
  Deframer,
  handshakeRequest,
  maskedTextFrames,
} from "./ws_client_frames.ts";

const encoder = new TextEncoder();

/** This process's clock in microseconds (with fraction). */
export function nowUs(): number {
  return performance.now() * 1000;
}

/**
 * What every client reports into: the latency histogram, delivery counts,
 * and the messages sent so far (so each reader knows what it should get).
 */
export class Meter {
  readonly latency: Histogram = new Histogram();
  /** Benchmark messages received by any client. */
  deliveries = 0;
  /** Of those, received before {@linkcode Meter.windowEndUs}. */
  windowDeliveries = 0;
  /** Markers that did not parse: a message cut in two by a relay. */
  garbled = 0;
  /** A message from a sender arriving with a sequence number not above the last. */
  outOfOrder = 0;
  /** Messages sent by all senders together. */
  sent = 0;
  /** End of the measurement window; deliveries after it are drain. */
  windowEndUs = Infinity;
  /**
   * Which server each sender is connected to, by sender number, when the
   * clients are spread over several (the cluster scenario); null otherwise.
   */
  senderNode: Int32Array | null = null;
  /**
   * Latency of deliveries whose reader is on another server than their
   * sender (filled only when {@linkcode Meter.senderNode} is set).
   */
  readonly crossNode: Histogram = new Histogram();
  /** Called for each message the observer client receives. */
  onObserved: ((sender: number) => void) | null = null;
  /** Called after the observer has handled one whole chunk. */
  afterObserverChunk: (() => void) | null = null;
  /**
   * Called with {@linkcode Meter.sent} after each batch is sent: readers in
   * another process learn what they should have had (native_reader.ts).
   */
  onSent: ((sent: number) => void) | null = null;

  /** Starts counting sent messages from zero. */
  begin(): void {
    this.sent = 0;
  }
}

/** Why and when a client stopped. */
export interface ClientEnd {
  /** "local" when we closed it; otherwise the server or the network did. */
  reason: string;
  /** Messages this client should have received by then (see expected). */
  expectedAtEnd: number;
}

/** Options for one client. */
export interface ClientOptions {
  /** The server's port on 127.0.0.1. */
  port: number;
  protocol: Protocol;
  /** Where deliveries and latencies are counted. */
  meter: Meter;
  nick: string;
  login: LoginOptions;
  /** Bytes per read. */
  readBufferBytes: number;
  /** Size benchmark payloads are padded to (see {@linkcode ChunkScanner}). */
  payloadBytes: number;
  /** Stop reading once logged in (the stalled client of scenario d). */
  stallAfterLogin?: boolean;
  /** The server `port` belongs to, when there are several (0). */
  node?: number;
}

/** One benchmark connection. */
export class BenchClient implements ScanSink {
  readonly nick: string;
  /** Sender number when this client sends, else -1. */
  senderId = -1;
  /** Whether this client is the window observer. */
  observer = false;
  state: "new" | "login" | "ready" | "closed" = "new";
  /** Benchmark messages this client received. */
  received = 0;
  /** Messages sent by this client (it never receives its own). */
  sentOwn = 0;
  /**
   * Lines received that were not benchmark messages: the login's, and every
   * notice (joins, member lists) the server sent this client.
   */
  controlLines = 0;
  /** Set once the client has stopped. */
  end: ClientEnd | null = null;
  /** Local TCP port, to find this socket in /proc/net/tcp. */
  localPort = 0;
  /** The server this client is on, when there are several. */
  node = 0;
  /** Last sequence number seen from each sender, for order checks. */
  lastSeq: Int32Array = new Int32Array(0);

  readonly #options: ClientOptions;
  readonly #meter: Meter;
  readonly #protocol: Protocol;
  #conn: Deno.TcpConn | null = null;
  #expect: Uint8Array[] = [];
  #readyResolve: (() => void) | null = null;
  #readyReject: ((error: Error) => void) | null = null;
  #closingLocally = false;
  /** What the server said when it announced it was disconnecting us. */
  #closingReason: string | null = null;
  #pending: Uint8Array[] = [];
  #writing = false;
  /** Set for a WebSocket protocol: the server's frames become lines. */
  #deframer: Deframer | null = null;

  /** @param options where to connect and how to log in */
  constructor(options: ClientOptions) {
    this.#options = options;
    this.#meter = options.meter;
    this.#protocol = options.protocol;
    this.nick = options.nick;
    this.node = options.node ?? 0;
  }

  /**
   * Connects, logs in, and resolves once the server has confirmed the login;
   * rejects on any failure or after `timeoutMs`.
   */
  async start(timeoutMs: number): Promise<void> {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new Error(`login not confirmed within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      const conn = await Promise.race([
        Deno.connect({
          hostname: "127.0.0.1",
          port: this.#options.port,
          signal: abort.signal,
        }),
        timedOut,
      ]);
      this.#conn = conn;
      this.localPort = (conn.localAddr as Deno.NetAddr).port;
      const early = this.#protocol.webSocket === undefined
        ? null
        : await Promise.race([this.#upgrade(conn), timedOut]);
      const plan = this.#protocol.login(this.nick, this.#options.login);
      this.#expect = plan.expect.map((text) => encoder.encode(text));
      this.state = "login";
      const ready = new Promise<void>((resolve, reject) => {
        this.#readyResolve = resolve;
        this.#readyReject = reject;
      });
      this.#readLoop(conn, early).catch((error) =>
        this.#stop(`read: ${error}`)
      );
      if (plan.send !== "") this.send(plan.send);
      if (this.#expect.length === 0) this.#ready();
      await Promise.race([ready, timedOut]);
    } catch (error) {
      this.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the client is logged in and still connected. */
  get live(): boolean {
    return this.state === "ready";
  }

  /**
   * Messages this client should have received: every message sent so far by
   * anyone else (or, once it has stopped, sent before it stopped).
   */
  get expected(): number {
    if (this.end !== null) return this.end.expectedAtEnd;
    return this.#meter.sent - this.sentOwn;
  }

  /**
   * Queues `text` for sending. Never blocks: writes are serialized, and
   * everything queued while one is in flight leaves as one write.
   */
  send(text: string): void {
    if (this.state === "closed" || this.#conn === null) return;
    this.#pending.push(
      this.#deframer === null ? encoder.encode(text) : maskedTextFrames(text),
    );
    if (!this.#writing) {
      this.#writing = true;
      this.#flush(this.#conn).catch((error) => this.#stop(`write: ${error}`));
    }
  }

  /** Closes the connection from our side. */
  close(): void {
    this.#closingLocally = true;
    this.#stop("local");
  }

  async #flush(conn: Deno.TcpConn): Promise<void> {
    try {
      while (this.#pending.length > 0 && this.state !== "closed") {
        const chunks = this.#pending;
        this.#pending = [];
        let bytes: Uint8Array;
        if (chunks.length === 1) {
          bytes = chunks[0]!;
        } else {
          let length = 0;
          for (const chunk of chunks) length += chunk.length;
          bytes = new Uint8Array(length);
          let offset = 0;
          for (const chunk of chunks) {
            bytes.set(chunk, offset);
            offset += chunk.length;
          }
        }
        for (let offset = 0; offset < bytes.length;) {
          offset += await conn.write(bytes.subarray(offset));
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  /**
   * The WebSocket handshake: sends the request, reads the answer's head,
   * and returns the bytes that came after it (already frames).
   */
  async #upgrade(conn: Deno.TcpConn): Promise<Uint8Array> {
    const path = this.#protocol.webSocket!.path;
    await conn.write(
      encoder.encode(handshakeRequest(`127.0.0.1:${this.#options.port}`, path)),
    );
    const buffer = new Uint8Array(4096);
    let head = new Uint8Array(0);
    while (true) {
      const count = await conn.read(buffer);
      if (count === null) throw new Error("closed during the handshake");
      const joined = new Uint8Array(head.length + count);
      joined.set(head);
      joined.set(buffer.subarray(0, count), head.length);
      head = joined;
      const text = new TextDecoder().decode(head);
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) continue;
      if (!text.startsWith("HTTP/1.1 101")) {
        throw new Error(`handshake refused: ${text.split("\r\n")[0]}`);
      }
      this.#deframer = new Deframer();
      return head.slice(encoder.encode(text.slice(0, end + 4)).length);
    }
  }

  async #readLoop(
    conn: Deno.TcpConn,
    early: Uint8Array | null,
  ): Promise<void> {
    const buffer = new Uint8Array(this.#options.readBufferBytes);
    const scanner = new ChunkScanner(this, this.#options.payloadBytes);
    const deframer = this.#deframer;
    // Each frame is one line; all of a read's frames share its clock reading.
    let readAt = 0;
    const frame = (bytes: Uint8Array, start: number, end: number) =>
      scanner.line(bytes, start, end, readAt);
    if (deframer !== null && early !== null && early.length > 0) {
      readAt = nowUs();
      deframer.each(early, frame);
    }
    try {
      while (this.state !== "closed") {
        if (this.#options.stallAfterLogin && this.state === "ready") return;
        const count = await conn.read(buffer);
        if (count === null) {
          this.#stop("closed by server");
          return;
        }
        if (deframer === null) {
          scanner.push(buffer.subarray(0, count), nowUs());
        } else {
          readAt = nowUs();
          deframer.each(buffer.subarray(0, count), frame);
          if (deframer.closed) {
            this.#stop("closed by server (close frame)");
            return;
          }
        }
        if (this.observer) this.#meter.afterObserverChunk?.();
      }
    } catch (error) {
      this.#stop(
        error instanceof Error ? `${error.name}: ${error.message}` : "error",
      );
    }
  }

  /** A benchmark message for this client (called by the scanner). */
  message(header: ParsedMessage, atUs: number): void {
    const meter = this.#meter;
    meter.latency.record(atUs - header.sentUs);
    const nodes = meter.senderNode;
    if (nodes !== null && nodes[header.sender] !== this.node) {
      meter.crossNode.record(atUs - header.sentUs);
    }
    meter.deliveries++;
    if (atUs <= meter.windowEndUs) meter.windowDeliveries++;
    this.received++;
    const last = this.lastSeq;
    if (header.sender < last.length) {
      if (header.seq <= last[header.sender]!) meter.outOfOrder++;
      last[header.sender] = header.seq;
    }
    if (this.observer) meter.onObserved?.(header.sender);
  }

  /** A message cut in two by the relay (called by the scanner). */
  garbled(): void {
    this.#meter.garbled++;
  }

  /** A line that is not a benchmark message (called by the scanner). */
  control(bytes: Uint8Array, start: number, end: number): void {
    this.controlLines++;
    if (this.state === "login") {
      const next = this.#expect[0];
      if (next !== undefined && containsBytes(bytes, start, end, next)) {
        this.#expect.shift();
        if (this.#expect.length === 0) this.#ready();
      }
    }
    const action = this.#protocol.control(bytes.subarray(start, end));
    if (action === null) return;
    if (action.reply !== undefined) this.send(action.reply);
    if (action.closing !== undefined) this.#closingReason = action.closing;
  }

  #ready(): void {
    if (this.state !== "login") return;
    this.state = "ready";
    this.#readyResolve?.();
  }

  #stop(reason: string): void {
    if (this.state === "closed") return;
    const wasLogin = this.state === "login" || this.state === "new";
    this.state = "closed";
    this.end = {
      reason: this.#closingLocally ? "local" : this.#closingReason ?? reason,
      expectedAtEnd: this.#meter.sent - this.sentOwn,
    };
    if (wasLogin) {
      this.#readyReject?.(new Error(`closed during login: ${this.end.reason}`));
    }
    this.#pending = [];
    try {
      this.#conn?.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}

/** Options for {@linkcode connectAll}. */
export interface ConnectOptions {
  count: number;
  /** Connections being set up at once. */
  concurrency: number;
  /** Time allowed for one client to connect and log in. */
  loginTimeoutMs: number;
  /** Time allowed for all of them; clients not started by then fail. */
  deadlineMs: number;
  /** Options of client `index`. */
  client: (index: number) => ClientOptions;
}

/** The outcome of {@linkcode connectAll}. */
export interface Connected {
  clients: BenchClient[];
  /** Wall time until every client that made it was logged in. */
  seconds: number;
  /** One line per failure, with counts. */
  failures: Map<string, number>;
}

/**
 * Connects and logs in `count` clients, `concurrency` at a time. A client
 * that fails is closed and counted, never retried: a server's connection
 * limits are part of what is measured.
 */
export async function connectAll(options: ConnectOptions): Promise<Connected> {
  const clients: BenchClient[] = [];
  const failures = new Map<string, number>();
  const started = performance.now();
  const deadline = started + options.deadlineMs;
  let next = 0;
  const worker = async () => {
    while (next < options.count) {
      const index = next++;
      if (performance.now() > deadline) {
        failures.set(
          "setup deadline passed",
          (failures.get("setup deadline passed") ?? 0) + 1,
        );
        continue;
      }
      const client = new BenchClient(options.client(index));
      try {
        await client.start(options.loginTimeoutMs);
        clients[index] = client;
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        failures.set(why, (failures.get(why) ?? 0) + 1);
      }
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency, options.count));
  await Promise.all(Array.from({ length: workers }, worker));
  return {
    clients: clients.filter((client) => client !== undefined),
    seconds: (performance.now() - started) / 1000,
    failures,
  };
}

/**
 * Measures this process's event-loop lag: how late a 10 ms timer fires. A
 * large lag means the load generator itself was too busy to read sockets,
 * which would inflate the latencies it reports.
 */
export class LagProbe {
  #timer: ReturnType<typeof setInterval> | undefined;
  #last = 0;
  /** The largest lag seen, in milliseconds. */
  maxMs = 0;

  /** Starts probing. */
  start(): void {
    this.#last = performance.now();
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.maxMs = Math.max(this.maxMs, now - this.#last - 10);
      this.#last = now;
    }, 10);
  }

  /** Stops probing; returns the largest lag in milliseconds. */
  stop(): number {
    clearInterval(this.#timer);
    return this.maxMs;
  }
}

/** Sender settings shared by both kinds of load. */
export interface LoadOptions {
  senders: BenchClient[];
  protocol: Protocol;
  meter: Meter;
  /** Bytes of each message's payload. */
  payloadBytes: number;
}

/** Sends `count` messages from `sender` in one write. */
function sendBatch(
  options: LoadOptions,
  sender: BenchClient,
  count: number,
): void {
  const at = nowUs();
  const meter = options.meter;
  let text = "";
  for (let i = 0; i < count; i++) {
    const seq = ++sender.sentOwn;
    text += options.protocol.frame(
      payload(sender.senderId, seq, at, options.payloadBytes),
    );
  }
  meter.sent += count;
  sender.send(text);
  meter.onSent?.(meter.sent);
}

/**
 * Closed-loop load: each sender keeps at most `window` messages that the
 * observer client has not yet received. When the observer sees a message,
 * its sender's window opens by one, and after each chunk the observer reads,
 * every sender with room tops up in one write. A sender whose window has not
 * moved for `stallMs` (a message lost, or a server that stopped reading)
 * gets a fresh window, counted in {@linkcode WindowedLoad.resets}.
 */
export class WindowedLoad {
  readonly #options: LoadOptions;
  readonly #window: number;
  readonly #outstanding: number[];
  readonly #lastProgress: number[];
  readonly #dirty = new Set<number>();
  #running = false;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  /** Windows reset because a sender made no progress. */
  resets = 0;

  /**
   * @param options senders and message format
   * @param window messages each sender may have in flight
   * @param stallMs no progress for this long resets a sender's window
   */
  constructor(options: LoadOptions, window: number, readonly stallMs = 2000) {
    this.#options = options;
    this.#window = window;
    this.#outstanding = options.senders.map(() => 0);
    this.#lastProgress = options.senders.map(() => performance.now());
  }

  /** Starts sending. */
  start(): void {
    const meter = this.#options.meter;
    meter.onObserved = (sender) => {
      if (sender >= this.#outstanding.length) return;
      if (this.#outstanding[sender]! > 0) this.#outstanding[sender]!--;
      this.#dirty.add(sender);
    };
    meter.afterObserverChunk = () => {
      if (!this.#running || this.#dirty.size === 0) return;
      const now = performance.now();
      for (const sender of this.#dirty) {
        this.#lastProgress[sender] = now;
        this.#topUp(sender);
      }
      this.#dirty.clear();
    };
    this.#running = true;
    this.#options.senders.forEach((_, sender) => this.#topUp(sender));
    this.#watchdog = setInterval(() => {
      const now = performance.now();
      this.#options.senders.forEach((_, sender) => {
        if (now - this.#lastProgress[sender]! > this.stallMs) {
          this.resets++;
          this.#outstanding[sender] = 0;
          this.#lastProgress[sender] = now;
          this.#topUp(sender);
        }
      });
    }, Math.max(50, this.stallMs / 4));
  }

  /** Stops sending; messages in flight still arrive. */
  stop(): void {
    this.#running = false;
    clearInterval(this.#watchdog);
    this.#options.meter.onObserved = null;
    this.#options.meter.afterObserverChunk = null;
  }

  #topUp(sender: number): void {
    if (!this.#running) return;
    const client = this.#options.senders[sender]!;
    const room = this.#window - this.#outstanding[sender]!;
    if (room <= 0 || !client.live) return;
    this.#outstanding[sender]! += room;
    sendBatch(this.#options, client, room);
  }
}

/**
 * Open-loop load: `rate` messages per second in total, spread evenly over
 * the senders and in phase-shifted steps, so arrivals do not bunch up. A
 * timer every `tickMs` sends what is due; a late timer sends the backlog
 * (at most one second's worth) rather than losing it.
 */
export class PacedLoad {
  readonly #options: LoadOptions;
  readonly #perSender: number;
  readonly #tickMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #startedAt = 0;
  #running = false;

  /**
   * @param options senders and message format
   * @param rate messages per second, all senders together
   * @param tickMs how often due messages are sent
   */
  constructor(options: LoadOptions, rate: number, tickMs = 5) {
    this.#options = options;
    this.#perSender = rate / Math.max(1, options.senders.length);
    this.#tickMs = tickMs;
  }

  /** Starts sending. */
  start(): void {
    this.#running = true;
    this.#startedAt = performance.now();
    this.#tick();
  }

  /** Stops sending. */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  #tick(): void {
    if (!this.#running) return;
    const elapsed = (performance.now() - this.#startedAt) / 1000;
    const senders = this.#options.senders;
    senders.forEach((client, sender) => {
      if (!client.live) return;
      const phase = sender / senders.length / this.#perSender;
      const due = Math.floor((elapsed + phase) * this.#perSender) -
        client.sentOwn;
      if (due > 0) {
        sendBatch(this.#options, client, Math.min(due, this.#perSender + 1));
      }
    });
    this.#timer = setTimeout(() => this.#tick(), this.#tickMs);
  }
}
