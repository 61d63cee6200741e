/**
 * From a read's frames to the handlers: each complete line goes to
 * `handleLine` in order, and a line too long becomes an error reply. Most
 * requests finish synchronously; one that returns a promise (hashing a
 * password) is awaited before the next frame, so a connection's lines keep
 * their order while every other connection carries on. A handler that throws
 * costs that connection one `internal` error, never the server.
 *
 * @module
 */

import { handleLine } from "./chat.ts";
import type { ChatHub } from "../hub.ts";
import { describeError } from "../log.ts";
import type { Frame } from "../../protocol.ts";
import type { Session } from "../session.ts";

/**
 * Handles a read's frames; returns a promise only when a request is still
 * running, so the synchronous path costs no await.
 */
export function handleFrames(
  hub: ChatHub,
  session: Session,
  frames: Frame[],
): Promise<void> | void {
  if (frames.length === 0) return;
  session.lastInputAt = hub.now();
  session.pingToken = null;
  for (let i = 0; i < frames.length; i++) {
    const pending = handleFrame(hub, session, frames[i]!);
    if (pending !== undefined) {
      return handleRemainingFrames(hub, session, frames, i, pending);
    }
  }
}

async function handleRemainingFrames(
  hub: ChatHub,
  session: Session,
  frames: Frame[],
  index: number,
  pending: Promise<void>,
): Promise<void> {
  await settle(hub, session, pending);
  for (let i = index + 1; i < frames.length; i++) {
    const next = handleFrame(hub, session, frames[i]!);
    if (next !== undefined) await settle(hub, session, next);
  }
}

/** One frame; a promise if its request is still running. */
function handleFrame(
  hub: ChatHub,
  session: Session,
  frame: Frame,
): Promise<void> | undefined {
  if (session.state === "closing") return;
  if (frame.kind === "too_long") {
    session.send({
      type: "error",
      code: "line_too_long",
      message: `Line longer than ${frame.limit} bytes; it was discarded`,
    });
    return;
  }
  try {
    return handleLine(hub, session, frame.text) ?? undefined;
  } catch (error) {
    commandFailed(hub, session, error);
  }
}

async function settle(
  hub: ChatHub,
  session: Session,
  pending: Promise<void>,
): Promise<void> {
  try {
    await pending;
  } catch (error) {
    commandFailed(hub, session, error);
  }
}

function commandFailed(hub: ChatHub, session: Session, error: unknown): void {
  hub.log("error", "command_failed", {
    session: session.id,
    error: describeError(error),
  });
  session.send({
    type: "error",
    code: "internal",
    message: "Internal error; the request was not completed",
  });
}
