/**
 * One connected peer: its socket, its framer, its bounded send queue, and
 * what the chat knows of it (codec, nickname, rooms, away status).
 *
 * @module
 */

import { addressKey } from "./admission.ts";
import type { SyncWriteBudget } from "./net/sync_write_budget.ts";
import type { FlushScheduler } from "./net/coalescing.ts";
import type { WriteGate } from "./net/write_gate.ts";
import { FloodPacer, type TokenBucket } from "./flood.ts";
import { PrivatePeers } from "./private_peers.ts";
import type { Limits } from "./limits.ts";
import type { MemberIndex } from "./member_pages.ts";
import { PageCursors } from "../wire/who_more.ts";
import { type MemberFeed, pullInOrder, type RoomBatch } from "./room_batch.ts";
import {
  NOT_YET,
  OutboundQueue,
  type QueueFeed,
} from "./net/outbound_queue.ts";
import {
  type Codec,
  EncodedEvent,
  type Hints,
  LineFramer,
  type ServerEvent,
} from "../protocol.ts";

/** An account a session has identified to. */
export interface SessionAccount {
  /** The account's id, never reused. */
  id: number;
  /** Its nickname as registered. */
  nick: string;
}

/** Where a session is in its life. */
export type SessionState = "login" | "active" | "closing";

/** A room as the server holds it. */
export interface Room {
  /** Display name, as its first member typed it (with `#`). */
  name: string;
  /** Its members connected to this node. */
  members: Set<Session>;
  /** Its members in fold-key order, for `/who` pages (member_pages.ts). */
  index: MemberIndex<Session>;
  /** The topic ("" for none), who set it and when. */
  topic: string;
  /** The nickname that set the topic. */
  topicBy?: string;
  /** When the topic was set (ms since the epoch). */
  topicAt?: number;
  /**
   * The address that opened it, whose `--max-rooms-per-address` count it is
   * in while it exists; absent for the lobby and for a room that already
   * had members on other nodes of a cluster.
   */
  openedBy?: string;
  /** A big room's log of recent events (room_batch.ts); made when first needed. */
  batch?: RoomBatch<Session>;
  /** The member count its members were last sent as a `count` (rooms.ts). */
  countTold?: number;
  /** When that was, in the hub's milliseconds. */
  countToldAt?: number;
}

/** Why sending to a peer failed: its queue overflowed, or a write failed. */
export type SendFailure = "slow" | "lost";

/** What a session is made from. */
export interface SessionOptions {
  /** The connection. */
  socket: SessionSocket;
  /** The peer's IP address. */
  address: string;
  /** The limits a session applies itself. */
  limits:
    & Pick<
      Limits,
      | "maxLineBytes"
      | "maxSendQueueBytes"
      | "sendQueueSoftBytes"
      | "floodRate"
      | "floodBurst"
      | "floodBurstBytes"
      | "floodByteRate"
      | "floodDisconnectMs"
    >
    & Partial<Pick<Limits, "ipv6Prefix">>;
  /** Told when sending fails: the peer must go. */
  onSendFailure: (session: Session, why: SendFailure) => void;
  /** Told when building a reply's next event threw; the reply was cut short. */
  onReplyError?: (session: Session, error: unknown) => void;
  /** When the send queue writes (shared by the server). @default at once */
  writes?: FlushScheduler;
  /**
   * How many writes the server starts at once (shared by the server).
   * @default no limit
   */
  gate?: WriteGate;
  /**
   * How many writes made at once run in one turn (shared by the server;
   * only for a socket with `tryWrite`). @default no limit
   */
  budget?: SyncWriteBudget;
  /** Whether the server password is still to be given. @default false */
  passwordRequired?: boolean;
}

/** What a session needs from its socket. */
export interface SessionSocket {
  /** Writes bytes; resolves with how many the socket took. */
  write(bytes: Uint8Array): Promise<number>;
  /** A write made at once, where the socket has one (net/libc_socket.ts). */
  tryWrite?(bytes: Uint8Array): number;
  /** Closes the connection; what is unwritten is lost. */
  close(): void;
}

let nextSessionId = 1;

/** One connected peer. */
export class Session {
  /** Unique for the process's life; used in logs. */
  readonly id: number = nextSessionId++;
  /** The peer's IP address, for logs and bans. */
  readonly address: string;
  /**
   * What per-address limits count this connection as: its address, or for
   * IPv6 its `--ipv6-prefix` (admission.ts {@linkcode addressKey}).
   */
  readonly addressKey: string;
  /**
   * When the peer connected (ms since the epoch): the login deadline counts
   * from it.
   */
  readonly connectedAt: number;
  /** Splits the peer's bytes into lines, refusing any over `--max-line`. */
  readonly framer: LineFramer;
  /** The bounded queue of what is still to be written to the peer. */
  readonly outbound: OutboundQueue;
  #state: SessionState = "login";
  /** Told once when the session starts closing (see onClosing). */
  #closingWakers = new Set<() => void>();
  /**
   * Waits in progress that hold this connection's input by design (a line
   * waiting its turn under flood control, or for the replies before it to
   * go): while any does, the peer's input is not read, on a WebSocket as
   * on TCP, rather than piled up behind it.
   */
  inputHeld = 0;
  #codec: Codec = "text";
  #codecChosen = false;
  /** What a JSON hello asked hints to name; null: as the codec has it. */
  #hints: Hints | null = null;
  #nick: string | null = null;
  #nickSince = 0;
  /**
   * The rooms this session is in, least recently current first (rooms.ts
   * keeps the order); never empty once logged in.
   */
  readonly rooms: Set<Room> = new Set();
  /**
   * The big rooms' logs it reads from (room_batch.ts keeps this list): what
   * its connection pulls from when its turn to write comes.
   */
  readonly feeds: MemberFeed<Session>[] = [];
  /** Where its plain lines go: changed at once by a join, switch or part. */
  current: Room | null = null;
  /**
   * Whose broadcasts it sees untagged: `current` as of the deliveries being
   * made now. It follows `current` in delivery order (rooms.ts
   * `makeCurrent`), so a line accepted before a switch, delivered after the
   * history's commit, is tagged by the room that was current then.
   */
  shown: Room | null = null;
  /** The away reason ("" for none given), or null when present. */
  away: string | null = null;
  /** Lines received before login, bounded against handshake floods. */
  loginLines = 0;
  /** Whether the server password has been given (or none is needed). */
  authenticated = false;
  /** Wrong server or operator passwords so far. */
  passwordAttempts = 0;
  /** Whether this session holds the operator role. */
  isOp = false;
  /** Whether an operator has silenced this session. */
  muted = false;
  /**
   * The account this session has proved is its own, if any: its id (what
   * private history and waiting messages belong to) and registered nickname.
   */
  account: SessionAccount | null = null;
  /** Made at the first private message: most sessions never send one. */
  #privatePeers: PrivatePeers | null = null;
  /** A registered nickname chosen at the text prompt, awaiting /identify. */
  pendingLogin: { nick: string; room?: string } | null = null;
  #lastInputAt: number;
  #pingToken: string | null = null;
  #pingSentAt = 0;
  /** Flood control, which paces this peer's input: null when turned off. */
  readonly flood: FloodPacer | null = null;
  /** Nickname changes allowed from now: `--max-nick-changes` a minute. */
  nickChanges: TokenBucket | null = null;
  /** Joins and parts allowed from now: `--max-joins` a minute. */
  roomChanges: TokenBucket | null = null;
  /**
   * Where the `/who` pages it was last given go on: asking for the page
   * after one is free of flood control (wire/who_more.ts).
   */
  readonly whoCursors: PageCursors = new PageCursors();
  #socket: SessionSocket;
  #socketClosed = false;
  /**
   * Set once its last event (the goodbye) is queued: nothing is sent after
   * it. A session that is closing but not yet sealed still takes what it
   * was promised before it was told to go (see {@linkcode Session.finish}).
   */
  #sealed = false;
  #finished: Promise<void> | null = null;
  readonly #onSendFailure: (session: Session, why: SendFailure) => void;
  readonly #onReplyError: (session: Session, error: unknown) => void;

  /**
   * Starts in login, with its limits applied from the first byte.
   * @param options the connection, its limits, and whom to tell of failure
   */
  constructor(options: SessionOptions) {
    const { socket, limits } = options;
    this.#socket = socket;
    this.address = options.address;
    this.addressKey = addressKey(options.address, limits.ipv6Prefix ?? 128);
    this.connectedAt = Date.now();
    this.#lastInputAt = this.connectedAt;
    this.authenticated = !(options.passwordRequired ?? false);
    this.framer = new LineFramer(limits.maxLineBytes);
    this.#onSendFailure = options.onSendFailure;
    this.#onReplyError = options.onReplyError ?? (() => {});
    this.outbound = new OutboundQueue(socket, {
      maxQueuedBytes: limits.maxSendQueueBytes,
      softQueuedBytes: limits.sendQueueSoftBytes,
      onError: () => this.#onSendFailure(this, "lost"),
      ...(options.writes === undefined ? {} : { scheduler: options.writes }),
      ...(options.gate === undefined ? {} : { gate: options.gate }),
      ...(options.budget === undefined ? {} : { budget: options.budget }),
      feed: new RoomFeeds(this),
    });
    if (limits.floodRate > 0) {
      this.flood = new FloodPacer({
        burstLines: limits.floodBurst,
        linesPerSecond: limits.floodRate,
        burstBytes: limits.floodBurstBytes,
        bytesPerSecond: limits.floodByteRate,
        disconnectAfterMs: limits.floodDisconnectMs,
      }, this.connectedAt);
    }
  }

  /** Decided by the first line: JSON if it is a JSON object. */
  get codec(): Codec {
    return this.#codec;
  }

  /**
   * How hints name requests for this session: slash commands in text mode
   * and for a JSON client whose hello asked for them (the web page and the
   * terminal client, whose users type `/quit`); request types for any other
   * JSON client, a program that sends `{"type":"quit"}`.
   */
  get hints(): Hints {
    return this.#hints ?? (this.#codec === "json" ? "requests" : "commands");
  }

  /** What a JSON hello's `hints` asked for, from then on. */
  set hints(hints: Hints) {
    this.#hints = hints;
  }

  /**
   * `text` for a session whose hints name slash commands, `json` for one
   * whose hints name request types ({@linkcode Session.hints}): a person
   * types `/identify PASSWORD`, a bot sends `{"type":"identify"}`, so a hint
   * that names a command is worded for the one reading it.
   */
  words(text: string, json: string): string {
    return this.hints === "requests" ? json : text;
  }

  /** Whether the first line has been seen (and so the codec decided). */
  get codecChosen(): boolean {
    return this.#codecChosen;
  }

  /** Fixes the codec, once: the first line decides it for good. */
  chooseCodec(codec: Codec): void {
    if (this.#codecChosen) return;
    this.#codecChosen = true;
    this.#codec = codec;
  }

  /**
   * The nickname once logged in. Changed only through nicknames.ts
   * (`claimNick`, `renameSession`), which keeps the hub's registry and the
   * mutes in step with it.
   */
  get nick(): string | null {
    return this.#nick;
  }

  /**
   * Who held each nickname it last exchanged private messages with, so a
   * message is not silently sent to someone who took the name since.
   */
  get privatePeers(): PrivatePeers {
    return this.#privatePeers ??= new PrivatePeers();
  }

  /** When it took its nickname (server time), for whoever wrote to the last holder. */
  get nickSince(): number {
    return this.#nickSince;
  }

  /** For nicknames.ts alone: see {@linkcode Session.nick}. */
  setNick(nick: string, at: number = Date.now()): void {
    // Its place in each room's member list follows the name.
    const old = this.#nick;
    for (const room of this.rooms) room.index.remove(this, old);
    this.#nick = nick;
    for (const room of this.rooms) room.index.add(this);
    this.#nickSince = at;
  }

  /** When the peer last sent a line; silence is measured from here. */
  get lastInputAt(): number {
    return this.#lastInputAt;
  }

  /** The token of an unanswered server ping, or null. */
  get pingToken(): string | null {
    return this.#pingToken;
  }

  /** When the unanswered ping was sent. */
  get pingSentAt(): number {
    return this.#pingSentAt;
  }

  /** The peer sent something at `now`: it is alive, any ping is answered. */
  heard(now: number): void {
    this.#lastInputAt = now;
    this.#pingToken = null;
  }

  /** Sends a ping at `now` that the peer must answer in time. */
  ping(now: number): void {
    this.#pingToken = String(now);
    this.#pingSentAt = now;
    this.send({ type: "ping", token: this.#pingToken });
  }

  /** A name for logs: the nickname once known, else the session id. */
  get label(): string {
    return this.nick ?? `#${this.id}`;
  }

  /** Sends one event, encoded for this session's codec. */
  send(event: ServerEvent): void {
    this.sendEncoded(new EncodedEvent(event));
  }

  /**
   * Queues an already-encoded event; `elsewhere` when it is a broadcast of
   * a room that is not this session's current one. Never blocks: a reader
   * too far behind is reported to the owner, which disconnects it.
   */
  sendEncoded(encoded: EncodedEvent, elsewhere = false): void {
    if (this.#sealed) return;
    this.#roomFirst();
    this.sendBytes(encoded.bytes(this.codec, elsewhere));
  }

  /** Queues bytes already encoded for this session's codec. */
  sendBytes(bytes: Uint8Array): void {
    if (this.#sealed || bytes.length === 0) return;
    // A closed queue's write failed, and said so: refused for that, the
    // bytes say nothing of how fast the peer reads.
    if (!this.outbound.enqueue(bytes) && !this.outbound.closed) {
      this.#onSendFailure(this, "slow");
    }
  }

  /**
   * Asks the connection to write soon: a big room it is in has events for
   * it, pulled when the write's turn comes (room_batch.ts).
   */
  poke(): void {
    this.outbound.poke();
  }

  /** Big rooms' events logged before now were said first: they go first. */
  #roomFirst(): void {
    if (this.feeds.length !== 0) pullInOrder(this);
  }

  /**
   * Queues a reply of any size after everything sent before it. Its events
   * are encoded and queued one at a time, only as the reader drains its
   * backlog (net/outbound_queue.ts), so a large reply never counts as this
   * reader's slowness; anything sent meanwhile waits behind it. Take what
   * the reply shows (rows, lists) when it is asked for, and hand over
   * events built from that: only their encoding is deferred. `written` is
   * told of each event once the socket has taken all of its bytes.
   *
   * This is the path for every reply whose size depends on data: history
   * pages, the join replay, the MOTD, waiting messages, member lists.
   *
   * `events` may be a promise (a history page read from Redis in a
   * cluster): the reply keeps its place, and everything sent after it,
   * room messages included, waits behind it until it settles. A promise
   * that rejects ends the reply empty, told to the reply-error handler.
   *
   * `promised`: the reply was counted when accepted
   * (`outbound.promiseReply`), and this is its turn.
   */
  reply(
    events: Iterable<ServerEvent> | Promise<Iterable<ServerEvent>>,
    written?: (event: ServerEvent) => void,
    promised = false,
  ): void {
    if (this.state === "closing") return;
    this.#roomFirst();
    let iterator: Iterator<ServerEvent> | null = null;
    if (events instanceof Promise) {
      events.then(
        (list) => iterator = list[Symbol.iterator](),
        (error: unknown) => {
          iterator = [][Symbol.iterator]();
          this.#onReplyError(this, error);
        },
      ).finally(() => this.outbound.wake()).catch(() => {});
    } else {
      iterator = events[Symbol.iterator]();
    }
    this.outbound.enqueueReply({
      next: () => {
        if (iterator === null) return NOT_YET;
        let step: IteratorResult<ServerEvent>;
        try {
          step = iterator.next();
        } catch (error) {
          this.#onReplyError(this, error);
          return null;
        }
        if (step.done) return null;
        const event = step.value;
        const bytes = new EncodedEvent(event).bytes(this.codec);
        return written === undefined
          ? { bytes }
          : { bytes, written: () => written(event) };
      },
    }, promised);
  }

  /**
   * Ends the connection: queues a last event past the queue's bound, then
   * closes the socket once it is written or `graceMs` has passed, whichever
   * is first. Only the first call counts.
   *
   * `turn`, when given, is where the last event waits for its place among
   * the answers already owed (Hub.replyTo): a message accepted before the
   * session was told to go still gets its confirmation, and a request its
   * answer, before the goodbye; until then the session takes them, while
   * nothing new reaches it (it has left its rooms). The rest of a paged
   * reply is dropped at once, as nobody is left to page through it.
   *
   * `dropQueued` (a reader too far behind): whatever the peer has not yet
   * received is dropped instead, promised or not, and the last event goes
   * at once.
   */
  finish(
    last: ServerEvent | null,
    graceMs: number,
    dropQueued: boolean,
    turn?: (go: () => void) => void,
  ): Promise<void> {
    this.#finished ??= this.#finish(last, graceMs, dropQueued, turn);
    return this.#finished;
  }

  /** Where the session is in its life: logging in, active, or closing. */
  get state(): SessionState {
    return this.#state;
  }

  set state(next: SessionState) {
    this.#state = next;
    if (next !== "closing") return;
    const wakers = [...this.#closingWakers];
    this.#closingWakers.clear();
    for (const wake of wakers) wake();
  }

  /**
   * Calls `wake` once, when the session starts closing (at once if it
   * has), so that a wait on its account (flood control's) ends with it
   * instead of keeping its task and timer alive; returns what cancels it.
   */
  onClosing(wake: () => void): () => void {
    if (this.#state === "closing") {
      wake();
      return () => {};
    }
    this.#closingWakers.add(wake);
    return () => this.#closingWakers.delete(wake);
  }

  /** Settles once the socket is closed after {@linkcode Session.finish}. */
  get finished(): Promise<void> {
    return this.#finished ?? Promise.resolve();
  }

  #finish(
    last: ServerEvent | null,
    graceMs: number,
    dropQueued: boolean,
    turn: ((go: () => void) => void) | undefined,
  ): Promise<void> {
    if (dropQueued) {
      this.outbound.discardQueued();
      return this.#closeAfter(last, graceMs, false);
    }
    this.outbound.dropReplies();
    if (turn === undefined) return this.#closeAfter(last, graceMs, true);
    return new Promise<void>((resolve, reject) =>
      turn(() => this.#closeAfter(last, graceMs, true).then(resolve, reject))
    );
  }

  /**
   * Seals the session with `last` (after what its big rooms logged for it,
   * if `pullFirst`: that was said before), then closes the socket once it
   * is written or the grace is over.
   */
  async #closeAfter(
    last: ServerEvent | null,
    graceMs: number,
    pullFirst: boolean,
  ): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      if (pullFirst) this.#roomFirst();
      this.#sealed = true;
      if (last !== null) {
        this.outbound.enqueue(new EncodedEvent(last).bytes(this.codec), true);
      }
      const graceOver = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([this.outbound.idle(), graceOver]);
    } finally {
      this.#sealed = true;
      clearTimeout(timer);
      this.closeSocket();
    }
  }

  /** Closes the socket once; a pending read then ends the read loop. */
  closeSocket(): void {
    this.outbound.close();
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    try {
      this.#socket.close();
    } catch {
      // Already closed by the runtime after a failed write: nothing to free.
    }
  }
}

/**
 * The big rooms' logs a session reads from, as its send queue sees them. A
 * class, so that every connection shares its methods: closures would cost
 * each one three functions and their scope.
 */
class RoomFeeds implements QueueFeed {
  readonly #session: Session;

  constructor(session: Session) {
    this.#session = session;
  }

  /** Whether a big room it is in has events it has not pulled. */
  pending(): boolean {
    const session = this.#session;
    const feeds = session.feeds;
    for (let i = 0; i < feeds.length; i++) {
      if (feeds[i]!.dueFor(session)) return true;
    }
    return false;
  }

  /** Pulls from every big room whose spacing has passed. */
  pull(): void {
    const session = this.#session;
    const feeds = session.feeds;
    for (let i = 0; i < feeds.length; i++) feeds[i]!.pullDue(session);
  }

  /** Tells every big room that the connection has nothing left to write. */
  idle(): void {
    const session = this.#session;
    const feeds = session.feeds;
    for (let i = 0; i < feeds.length; i++) feeds[i]!.idle(session);
  }
}
