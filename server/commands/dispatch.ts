/**
 * From a read's frames to the handlers. Each complete line is decoded with
 * the connection's codec, checked against its request's row in the command
 * table (usable before login? operators only? flood-exempt?) and handed to
 * the handler for its type in {@linkcode HANDLERS}; a line too long becomes an
 * error reply. Most
 * requests finish synchronously; one that returns a promise (hashing a
 * password) is awaited before the next frame, so a connection's lines keep
 * their order while every other connection carries on. A handler that throws
 * costs that connection one `internal` error, never the server.
 *
 * @module
 */

import type { Hub } from "../hub.ts";
import { describeError } from "../log.ts";
import {
  type ClientRequest,
  decodeJsonRequest,
  decodeTextRequest,
  type ErrorEvent,
  errorEvent,
  type Frame,
  needsOperator,
  requestSpec,
  type RequestType,
} from "../../protocol.ts";
import type { Session } from "../session.ts";
import { ACCOUNT_HANDLERS } from "./accounts.ts";
import { Call } from "./call.ts";
import { CHAT_HANDLERS } from "./chat.ts";
import { MEMBERSHIP_HANDLERS } from "./membership.ts";
import { takesFreePage } from "../../wire/who_more.ts";
import { decodeTextLogin, LOGIN_HANDLERS, notLoggedIn } from "./login.ts";
import { OPERATOR_HANDLERS } from "./operator.ts";
import { paceInput } from "./pacing.ts";
import { lineBytes } from "../flood.ts";

/** What a request does, given that its row's policy allowed it. */
export type Handler<K extends RequestType> = (
  call: Call<K>,
) => void | Promise<void>;

/** One handler per request type, checked by the compiler. */
export type Handlers = { readonly [K in RequestType]: Handler<K> };

/**
 * Every request's handler once logged in, by request type (before login,
 * `hello`, `pass` and `identify` go to login.ts's instead).
 */
export const HANDLERS: Handlers = {
  ...CHAT_HANDLERS,
  ...MEMBERSHIP_HANDLERS,
  ...OPERATOR_HANDLERS,
  ...ACCOUNT_HANDLERS,
};

/**
 * A first line that starts a TLS record (a handshake, version 3.x): a TLS
 * client pointed at the plain port. Its binary hello would otherwise be
 * read as nicknames, answered with errors it cannot read, and left open.
 */
// deno-lint-ignore no-control-regex -- a TLS record's header is the point
const TLS_RECORD = /^\x16\x03[\x00-\x04]/;

/** A first line that is an HTTP request: someone pointed a browser here. */
const HTTP_REQUEST = /^[A-Z]+ \S+ HTTP\/\d(?:\.\d)?$/;

/**
 * Handles a read's frames; returns a promise only when a request is still
 * running, so the synchronous path costs no await.
 */
export function handleFrames(
  hub: Hub,
  session: Session,
  frames: Frame[],
  skippedBytes = 0,
): Promise<void> | void {
  if (frames.length === 0) return paceSkippedInput(hub, session, skippedBytes);
  session.heard(hub.now());
  for (let i = 0; i < frames.length; i++) {
    const pending = handleFrame(hub, session, frames[i]!);
    if (pending !== undefined) {
      return handleRemainingFrames(
        hub,
        session,
        frames,
        i,
        pending,
        skippedBytes,
      );
    }
  }
  return paceSkippedInput(hub, session, skippedBytes);
}

async function handleRemainingFrames(
  hub: Hub,
  session: Session,
  frames: Frame[],
  index: number,
  pending: Promise<void>,
  skippedBytes: number,
): Promise<void> {
  await settle(hub, session, pending);
  for (let i = index + 1; i < frames.length; i++) {
    const next = handleFrame(hub, session, frames[i]!);
    if (next !== undefined) await settle(hub, session, next);
  }
  await paceSkippedInput(hub, session, skippedBytes);
}

/**
 * Input that became no line (the rest of a line past `--max-line`,
 * telnet commands, a WebSocket's control frames and frame headers) costs
 * its bytes as a line's bytes do: once logged in, flood control paces it,
 * so the connection is not read until the budget has room; before login,
 * each `--max-line` of it counts as a line against `--max-login-lines`.
 * Otherwise a peer sending without ever ending a line would be read as
 * fast as it sends, for as long as it likes. A promise while it waits.
 */
export function paceSkippedInput(
  hub: Hub,
  session: Session,
  bytes: number,
): Promise<void> | undefined {
  if (bytes <= 0 || session.state === "closing") return;
  if (session.state !== "active") {
    session.loginLines += bytes / (hub.limits.maxLineBytes + 1);
    if (session.loginLines > hub.limits.maxLoginLines) {
      hub.disconnect(session, "lost", "Too many lines before login");
    }
    return;
  }
  const flood = session.flood;
  if (flood === null) return;
  // A read can hold more than the burst, which one charge never takes
  // past: charged a burst at a time, all of it counts.
  let left = bytes;
  while (left > 0) {
    const piece = Math.min(left, flood.budget.burstBytes);
    left -= piece;
    const waiting = paceInput(
      hub,
      session,
      flood,
      { lines: 0, bytes: piece },
      () => undefined,
    );
    if (waiting !== undefined) {
      return left === 0
        ? waiting
        : waiting.then(() => paceSkippedInput(hub, session, left));
    }
  }
}

/**
 * A message that is no request at all (a WebSocket's binary message) is
 * answered with `error` after the budget has room for it, as a line would
 * be: it counts as a line against flood control, or before login against
 * `--max-login-lines`.
 */
export function refuseInput(
  hub: Hub,
  session: Session,
  error: ErrorEvent,
): Promise<void> | undefined {
  if (session.state === "closing") return;
  session.heard(hub.now());
  const answer = () => void hub.answer(session, error);
  if (session.state !== "active") {
    if (++session.loginLines > hub.limits.maxLoginLines) {
      hub.disconnect(session, "lost", "Too many lines before login");
      return;
    }
    return answer();
  }
  if (session.flood === null) return answer();
  return paceInput(hub, session, session.flood, { lines: 1, bytes: 0 }, answer);
}

/**
 * Handles one complete line as {@linkcode handleFrames} does: decoded, paced
 * by flood control, dispatched. A promise when it waits or is still running.
 */
export function handleLine(
  hub: Hub,
  session: Session,
  line: string,
): Promise<void> | undefined {
  return handleFrame(hub, session, { kind: "line", text: line });
}

/**
 * A frame, decoded: a request, the error it earned, a telnet user's Ctrl-C,
 * or nothing to do.
 */
type Input =
  | { kind: "request"; request: ClientRequest }
  | { kind: "error"; error: ErrorEvent }
  | { kind: "telnet"; interrupt: boolean; timingMark: boolean }
  | { kind: "none" };

/**
 * IAC WILL TIMING-MARK: the answer to a telnet client's DO TIMING-MARK
 * (RFC 860), which it sends with Ctrl-C and then discards every byte the
 * server sends until this one comes.
 */
const WILL_TIMING_MARK = new Uint8Array([0xff, 0xfb, 0x06]);

/** What a telnet user who pressed Ctrl-C is told. */
const TELNET_INTERRUPT =
  "Ctrl-C does not leave the chat: type /quit (in telnet, Ctrl-] and then quit)";

const NOTHING: Input = { kind: "none" };

/**
 * One frame; a promise if its request is still running or waits its turn
 * under flood control (pacing.ts), which stops this connection's reads.
 * Every line counts against the budget, invalid ones and unknown commands
 * included, except those whose row is flood-exempt and a `/who` that goes
 * on from a page given (wire/who_more.ts, `takesFreePage`), whose pace is
 * its reader's; a blank line costs only its bytes.
 */
function handleFrame(
  hub: Hub,
  session: Session,
  frame: Frame,
): Promise<void> | undefined {
  if (session.state === "closing") return;
  const replies = hub.limits.maxQueuedReplies;
  if (session.outbound.repliesWaiting >= replies) {
    // A client that asks for pages faster than it reads them waits for
    // them to go: its next line, and its socket, are not read meanwhile.
    session.inputHeld++;
    return session.outbound.repliesBelow(replies).finally(() =>
      session.inputHeld--
    ).then(() => handleFrame(hub, session, frame));
  }
  const input = decodeFrame(hub, session, frame);
  if (
    input.kind === "telnet" || session.state !== "active" ||
    session.flood === null
  ) {
    return runInput(hub, session, input);
  }
  if (
    input.kind === "request" &&
    (requestSpec(input.request.type).policy.floodExempt ||
      takesFreePage(session.whoCursors, input.request, session.current?.name))
  ) {
    return runInput(hub, session, input);
  }
  const lines = input.kind === "none" ? 0 : 1;
  const bytes = frame.kind === "too_long"
    ? frame.limit
    : frame.kind === "line"
    ? lineBytes(frame.text)
    : 0;
  return paceInput(
    hub,
    session,
    session.flood,
    { lines, bytes },
    () => runInput(hub, session, input),
  );
}

/** Runs a decoded frame; a promise if its request is still running. */
function runInput(
  hub: Hub,
  session: Session,
  input: Input,
): Promise<void> | undefined {
  if (session.state === "closing") return;
  switch (input.kind) {
    case "none":
      return;
    case "error":
      hub.answer(session, input.error);
      return;
    case "telnet":
      // The answer first: the telnet client discards what comes before it.
      hub.replyTo(session, () => {
        if (input.timingMark) session.sendBytes(WILL_TIMING_MARK);
        if (input.interrupt) {
          session.send({ type: "notice", text: TELNET_INTERRUPT });
        }
      });
      return;
    case "request": {
      const request = input.request;
      // In a cluster a room message's confirmation comes back from Redis:
      // any other request waits for the connection's messages on their way,
      // so that what it sends comes after. Room messages follow each other
      // at once (their own answers wait their turn, Hub.replyTo).
      const ahead = request.type === "message" || request.type === "action"
        ? undefined
        : hub.sendsAnswered(session);
      if (ahead !== undefined) {
        return ahead.then(() => runRequest(hub, session, request));
      }
      return runRequest(hub, session, request);
    }
  }
}

/** Runs a request's handler; a promise if it is still running. */
function runRequest(
  hub: Hub,
  session: Session,
  request: ClientRequest,
): Promise<void> | undefined {
  if (session.state === "closing") return;
  try {
    return dispatch(hub, session, request) ?? undefined;
  } catch (error) {
    commandFailed(hub, session, error);
  }
}

/**
 * Decodes one frame with the session's codec (the first line decides it).
 * Bad input becomes the error event it earns; nothing here throws on a
 * peer's account.
 */
function decodeFrame(hub: Hub, session: Session, frame: Frame): Input {
  if (frame.kind === "telnet") {
    // Only a telnet client sends these, and a JSON one would read the
    // answer as a broken line: JSON mode ignores them.
    return session.codec === "json" ? NOTHING : frame;
  }
  // Every line counts before login, one too long among them.
  if (session.state === "login") {
    if (++session.loginLines > hub.limits.maxLoginLines) {
      hub.disconnect(session, "lost", "Too many lines before login");
      return NOTHING;
    }
  }
  if (frame.kind === "too_long") {
    return {
      kind: "error",
      error: errorEvent(
        "line_too_long",
        `Line longer than ${frame.limit} bytes; nobody saw it: send it as shorter lines`,
      ),
    };
  }
  const line = frame.text;
  if (!session.codecChosen && !chooseCodec(hub, session, line)) return NOTHING;
  // A blank line is nothing, in either codec and from any transport: an
  // empty WebSocket message is ignored as a blank TCP line is.
  if (line.trim() === "") return NOTHING;
  const request = session.codec === "json"
    ? decodeJsonRequest(line)
    : session.state === "login"
    ? decodeTextLogin(session, line)
    : decodeTextRequest(line);
  if (request === null) return NOTHING;
  if (request.type === "error") return { kind: "error", error: request };
  return { kind: "request", request };
}

/**
 * Decides the codec from the first non-blank line; false when the line ends
 * here (blank, or an HTTP request that closes the connection).
 */
function chooseCodec(hub: Hub, session: Session, line: string): boolean {
  if (line.trim() === "") return false;
  session.chooseCodec(line.trimStart().startsWith("{") ? "json" : "text");
  if (HTTP_REQUEST.test(line.trim())) {
    hub.disconnect(
      session,
      "lost",
      "This is a chat server, not a web server: connect with nc or the tern client",
    );
    return false;
  }
  if (TLS_RECORD.test(line)) {
    hub.disconnect(
      session,
      "lost",
      "This port speaks plain text, not TLS: connect without TLS, or to the server's TLS port",
    );
    return false;
  }
  return true;
}

/**
 * Checks a decoded request against its row's policy, in order (login,
 * operator), then runs its handler. Flood control has already paced it.
 */
export function dispatch(
  hub: Hub,
  session: Session,
  request: ClientRequest,
): void | Promise<void> {
  const call = new Call(hub, session, request);
  const policy = requestSpec(request.type).policy;
  if (session.state === "login") {
    const login = LOGIN_HANDLERS[request.type] as Handler<RequestType>;
    if (login !== undefined) return login(call);
    if (!policy.beforeLogin) return notLoggedIn(call);
  }
  if (needsOperator(request) && !session.isOp) {
    return call.fail(
      "not_permitted",
      session.words(
        `Only operators may use /${request.type}; /oper PASSWORD if you are one`,
        `Only operators may send "${request.type}"; an "oper" request with the password if you are one`,
      ),
    );
  }
  return (HANDLERS[request.type] as Handler<RequestType>)(call);
}

async function settle(
  hub: Hub,
  session: Session,
  pending: Promise<void>,
): Promise<void> {
  try {
    await pending;
  } catch (error) {
    commandFailed(hub, session, error);
  }
}

function commandFailed(hub: Hub, session: Session, error: unknown): void {
  hub.log("error", "command_failed", {
    session: session.id,
    error: describeError(error),
  });
  hub.answer(session, {
    type: "error",
    code: "internal",
    message: "Internal error; the request was not completed",
  });
}
