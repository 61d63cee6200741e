/**
 * One request being handled: who asked, what they asked, and the ways to
 * answer. Every handler takes a {@linkcode Call}, so replies carry the
 * request's `ref` and keep the order of the requests without each handler
 * repeating it.
 *
 * Replies reach a connection in the order it made its requests. What a
 * request sends to a room (a message and its sender's confirmation, a join,
 * a topic) is delivered only once the history has committed (hub.ts), so
 * every reply takes its place in that same line (`Hub.replyTo`): a `/help`
 * asked right after a message comes after the message's confirmation, and
 * so does an error. Nothing waits when nothing is pending, and what waits
 * costs the broadcast nothing: it waits at most for the commit at the end
 * of the event loop's turn, behind what was accepted before it. (In a
 * cluster a confirmation comes back from Redis: replies wait for it too,
 * cluster/reply_lane.ts.)
 *
 * @module
 */

import type { Hub } from "../hub.ts";
import type { Limits } from "../limits.ts";
import {
  clipText,
  type ErrorCode,
  errorEvent,
  hasVisibleText,
  type RequestOf,
  type RequestType,
  sanitizeText,
  type ServerEvent,
} from "../../protocol.ts";
import type { Session } from "../session.ts";

/** An event, or a function that builds it when it is sent. */
export type Reply = ServerEvent | (() => ServerEvent);

/** A request of type `K` from `session`, being handled. */
export class Call<K extends RequestType = RequestType> {
  /** The server the request acts on. */
  readonly hub: Hub;
  /** Who asked. */
  readonly session: Session;
  /** What they asked, decoded and checked against its row's policy. */
  readonly request: RequestOf<K>;

  /**
   * Made by the dispatcher for each request it routes.
   * @param hub the server the request acts on
   * @param session who asked
   * @param request what they asked
   */
  constructor(hub: Hub, session: Session, request: RequestOf<K>) {
    this.hub = hub;
    this.session = session;
    this.request = request;
  }

  /** Refuses the request: an error reply, in order, with its ref. */
  fail(code: ErrorCode, message: string): void {
    this.send(errorEvent(code, message, this.request.ref));
  }

  /**
   * Sends the direct reply with the request's ref. It (and a builder's
   * work, such as a history query) waits until everything accepted before
   * it is stored and delivered.
   */
  reply(event: Reply): void {
    const ref = this.request.ref;
    this.send(
      ref === undefined
        ? event
        : () => ({ ...build(event), ref }) as ServerEvent,
    );
  }

  /**
   * Sends a reply whose size depends on data (a history page, a member list,
   * the message of the day) as the reader drains it (Session.reply), so it
   * never counts as the reader's slowness. `build` runs when the reply's
   * turn comes (after everything accepted before it) and takes what the
   * reply shows then; only the encoding waits for the reader. Every event
   * of it carries the request's ref. `build` may answer with a promise
   * (history read from Redis); the reply keeps its place meanwhile.
   */
  replyPaged(build: () => ServerEvent[] | Promise<ServerEvent[]>): void {
    const ref = this.request.ref;
    const session = this.session;
    const withRef = (events: ServerEvent[]) =>
      ref === undefined
        ? events
        : events.map((event) => ({ ...event, ref }) as ServerEvent);
    const send = () => {
      let events: ServerEvent[] | Promise<ServerEvent[]>;
      try {
        events = build();
      } catch (error) {
        // Told to the reply-error handler, and the promise kept.
        events = Promise.reject(error);
      }
      session.reply(
        events instanceof Promise ? events.then(withRef) : withRef(events),
        undefined,
        true,
      );
    };
    // Counted now against --max-queued-replies, though it may wait behind
    // a message's commit before it is queued.
    session.outbound.promiseReply();
    this.hub.replyTo(session, send);
  }

  /** A notice as the direct reply. */
  tell(text: string): void {
    this.reply({ type: "notice", text });
  }

  /**
   * Counts a wrong password (`what`: server, operator or nickname); too many
   * close the connection, else the reply says it was wrong.
   */
  wrongPassword(what: "server" | "nickname" | "operator"): void {
    const { hub, session } = this;
    session.passwordAttempts++;
    hub.log("warn", "bad_password", {
      session: session.id,
      address: session.address,
      what,
    });
    if (session.passwordAttempts >= hub.limits.maxPasswordAttempts) {
      const words = `Too many wrong ${what} passwords`;
      hub.disconnect(session, "lost", words, {
        code: "bad_password",
        reason: words,
      });
      return;
    }
    const left = hub.limits.maxPasswordAttempts - session.passwordAttempts;
    this.failPassword(
      what,
      `Wrong ${what} password: ${left} ${
        left === 1 ? "try" : "tries"
      } left before the connection is closed`,
      left,
    );
  }

  /**
   * Refuses with `bad_password`, saying which password (server, nickname or
   * operator) was wrong or missing: a form then knows which field to ask
   * for again; after a wrong one, `triesLeft` before the connection closes.
   */
  failPassword(
    what: "server" | "nickname" | "operator",
    message: string,
    triesLeft?: number,
  ): void {
    this.send({
      ...errorEvent("bad_password", message, this.request.ref),
      password: what,
      ...(triesLeft === undefined ? {} : { triesLeft }),
    });
  }

  /** Sends `event` without a ref, in order. */
  send(event: Reply): void {
    const session = this.session;
    this.hub.replyTo(session, () => session.send(build(event)));
  }

  /**
   * Runs `action` in the request's place: once everything accepted before
   * it has been stored and delivered, as a reply would be sent. A promise
   * while it waits, which the handler returns so that the connection's
   * next lines wait too (dispatch.ts awaits it): for a request such as
   * `/quit` that changes what those lines would find.
   */
  inTurn(action: () => void): Promise<void> | undefined {
    let ran = false;
    let wake: (() => void) | null = null;
    this.hub.replyTo(this.session, () => {
      try {
        action();
      } finally {
        ran = true;
        wake?.();
      }
    });
    if (ran) return undefined;
    return new Promise<void>((resolve) => wake = resolve);
  }
}

function build(event: Reply): ServerEvent {
  return typeof event === "function" ? event() : event;
}

/**
 * Text of a reason (away, quit, kick, ban), cleaned and cut to
 * `--max-reason`; "" if it shows nothing.
 */
export function cleanReason(
  reason: string | undefined,
  limits: Pick<Limits, "maxReasonLength">,
): string {
  const text = clipText(sanitizeText(reason ?? ""), limits.maxReasonLength);
  return hasVisibleText(text) ? text : "";
}
