/// <reference lib="dom" />
/**
 * The web client's WebSocket: one JSON object per frame each way, and
 * reconnection with growing, jittered delays after the socket drops.
 *
 * @module
 */

import type { ClientRequest, ServerEvent } from "../../wire/events.ts";
import { decodeJsonEvent } from "../../wire/json_codec.ts";

/** First reconnection delay; each failure doubles it. */
export const RETRY_FIRST_MS = 500;

/** Longest reconnection delay: a restarted server is found within this. */
export const RETRY_MAX_MS = 15_000;

/**
 * The delay before reconnection attempt `attempt` (0 for the first):
 * doubling from {@linkcode RETRY_FIRST_MS} up to {@linkcode RETRY_MAX_MS},
 * spread by ±25% so that many pages do not all return at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retryDelay } from "./connection.ts";
 * assert.equal(retryDelay(0, 0.5), 500);
 * assert.equal(retryDelay(20, 0.5), 15_000);
 * ```
 */
export function retryDelay(attempt: number, random: number): number {
  const base = Math.min(RETRY_FIRST_MS * 2 ** attempt, RETRY_MAX_MS);
  return Math.round(base * (0.75 + random / 2));
}

/** What the connection tells the page. */
export interface ConnectionHandlers {
  /** The socket is open: say hello. */
  onOpen(): void;
  /** Each event from the server, in order. */
  onEvent(event: ServerEvent): void;
  /** The socket closed; `retryInMs` is null when no retry will follow. */
  onClose(retryInMs: number | null): void;
}

/** A WebSocket to the server that comes back after it drops. */
export class Connection {
  readonly #url: string;
  readonly #handlers: ConnectionHandlers;
  #socket: WebSocket | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /**
   * Does not connect yet (see `connect`); when the browser comes back
   * online it retries at once.
   * @param url the `ws:` or `wss:` URL of the server's `/ws`
   * @param handlers told of opening, events and closing
   */
  constructor(url: string, handlers: ConnectionHandlers) {
    this.#url = url;
    this.#handlers = handlers;
    globalThis.addEventListener("online", () => this.retryNow());
  }

  /** Whether the socket is open. */
  get open(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  /** Opens the socket (again). */
  connect(): void {
    clearTimeout(this.#timer);
    this.#stopped = false;
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    socket.addEventListener("open", () => this.#handlers.onOpen());
    socket.addEventListener("message", (message) => {
      if (typeof message.data !== "string") return;
      const event = decodeJsonEvent(message.data);
      if (event !== null) this.#handlers.onEvent(event);
    });
    socket.addEventListener("close", () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (this.#stopped) {
        this.#handlers.onClose(null);
        return;
      }
      const delay = retryDelay(this.#attempt++, Math.random());
      this.#timer = setTimeout(() => this.connect(), delay);
      this.#handlers.onClose(delay);
    });
  }

  /** The server welcomed us: the next drop starts from the first delay. */
  welcomed(): void {
    this.#attempt = 0;
  }

  /** Retries at once if waiting to (the browser came back online). */
  retryNow(): void {
    if (this.#socket === null && !this.#stopped) this.connect();
  }

  /**
   * Opens the socket again unless one is open or opening, even after
   * {@linkcode stop}: the person asked to try again.
   */
  reopen(): void {
    if (this.#socket === null) this.connect();
  }

  /** Sends one request; false if the socket is not open. */
  send(request: ClientRequest): boolean {
    if (!this.open) return false;
    this.#socket!.send(JSON.stringify(request));
    return true;
  }

  /** Closes for good: no retry follows. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#socket?.close(1000);
  }
}
