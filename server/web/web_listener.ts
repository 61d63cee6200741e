/**
 * The HTTP side of the server: one `Deno.serve` (plain, or TLS when given a
 * certificate) that serves the web client's files from memory and upgrades
 * `/ws` to a WebSocket handed to the chat. Every decision about a request is
 * made by http_rules.ts; this module only applies it.
 *
 * @module
 */

import { type Asset, routeRequest, securityHeaders } from "./http_rules.ts";

/** Where and how the web listener runs. */
export interface WebListenerOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain and key: HTTPS and WSS instead of HTTP and WS. */
  tls?: { cert: string; key: string };
  /** The web client's files, by exact path. */
  assets: ReadonlyMap<string, Asset>;
  /** Origins besides the page's own that may open the WebSocket. */
  allowedOrigins: readonly string[];
  /** Given each upgraded socket with the peer's address. */
  onWebSocket: (socket: WebSocket, address: string) => void;
  /** Told of a handshake refused for its origin, for the log. */
  onRefused?: (address: string, status: number, path: string) => void;
}

/**
 * Time the runtime's HTTP server gets to finish its own shutdown once the
 * chat has closed every socket. A peer whose socket is stuck can hold that
 * shutdown open until TCP gives up, so the wait is bounded.
 */
const SHUTDOWN_WAIT_MS = 2000;

/** A running web listener. */
export class WebListener {
  readonly addr: Deno.NetAddr;
  readonly tls: boolean;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #options: WebListenerOptions;
  readonly #headers: Record<string, string>;
  #accepting = true;

  /**
   * Binds and starts serving.
   * @throws Deno.errors.AddrInUse and the like when the port cannot be bound
   */
  constructor(options: WebListenerOptions) {
    this.#options = options;
    this.tls = options.tls !== undefined;
    this.#headers = securityHeaders(this.tls);
    const listen = {
      hostname: options.hostname,
      port: options.port,
      onListen: () => {},
      onError: () => new Response("Internal error\n", { status: 500 }),
    };
    this.#server = Deno.serve(
      options.tls === undefined ? listen : { ...listen, ...options.tls },
      (request, info) => this.#handle(request, info),
    );
    this.addr = this.#server.addr;
  }

  /** The URL a browser opens. */
  url(host: string): string {
    return `${this.tls ? "https" : "http"}://${host}:${this.addr.port}/`;
  }

  /** Refuses further upgrades (503), while the chat says goodbye. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /**
   * Stops the HTTP server. Call after every WebSocket has been closed; the
   * wait is bounded (see {@linkcode SHUTDOWN_WAIT_MS}).
   */
  async shutdown(): Promise<void> {
    this.#accepting = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.#server.shutdown(),
        new Promise((resolve) => timer = setTimeout(resolve, SHUTDOWN_WAIT_MS)),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) {
    const route = routeRequest(
      { method: request.method, url: request.url, headers: request.headers },
      this.#options.assets,
      this.#options.allowedOrigins,
    );
    const address = info.remoteAddr.hostname;
    switch (route.kind) {
      case "asset":
        return new Response(route.head ? null : route.asset.body, {
          headers: {
            ...this.#headers,
            "content-type": route.asset.contentType,
          },
        });
      case "refuse":
        if (route.status === 403) {
          this.#options.onRefused?.(
            address,
            route.status,
            new URL(request.url).pathname,
          );
        }
        return this.#text(route.status, route.text, route.allow);
      case "upgrade":
        return this.#upgrade(request, address);
    }
  }

  #upgrade(request: Request, address: string): Response {
    if (!this.#accepting) {
      return this.#text(503, "The server is shutting down");
    }
    let upgraded;
    try {
      // tern's own JSON ping keeps the connection alive, as on TCP; the
      // runtime's protocol-level idle timeout is turned off.
      upgraded = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
    } catch {
      return this.#text(400, "Bad WebSocket handshake");
    }
    this.#options.onWebSocket(upgraded.socket, address);
    return upgraded.response;
  }

  #text(status: number, text: string, allow?: string): Response {
    const headers: Record<string, string> = {
      ...this.#headers,
      "content-type": "text/plain; charset=utf-8",
    };
    if (allow !== undefined) headers.allow = allow;
    return new Response(`${text}\n`, { status, headers });
  }
}
