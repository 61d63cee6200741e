/**
 * Flood control at the read loop: a line over the connection's budget waits
 * its turn instead of being refused (flood.ts decides; this module waits).
 * While a line waits, the read loop awaits it, so the connection is not read
 * and its kernel buffers hold the rest: nothing is lost, and only the
 * flooder waits. The sender is told once per spell of pacing; input that
 * keeps coming past the budget, its lines waiting `--flood-disconnect` in
 * all, ends the connection.
 *
 * @module
 */

import type { Hub } from "../hub.ts";
import type { FloodPacer, Pace } from "../flood.ts";
import type { Session } from "../session.ts";

/** What one line costs the budget. */
export interface LineCost {
  /** 1 for a line that does something, 0 for a blank one. */
  lines: number;
  /** Its bytes, newline included. */
  bytes: number;
}

/**
 * Runs `run` once the line's cost fits the budget: at once (the common case,
 * without a promise) or after waiting. Returns what `run` returns, or the
 * promise of it.
 */
export function paceInput(
  hub: Hub,
  session: Session,
  pacer: FloodPacer,
  cost: LineCost,
  run: () => Promise<void> | undefined,
): Promise<void> | undefined {
  const pace = pacer.admit(cost.lines, cost.bytes, hub.now());
  if (pace.action === "now") return run();
  return waitTurn(hub, session, pacer, cost, run, pace);
}

async function waitTurn(
  hub: Hub,
  session: Session,
  pacer: FloodPacer,
  cost: LineCost,
  run: () => Promise<void> | undefined,
  first: Pace,
): Promise<void> {
  session.inputHeld++;
  try {
    await waitForTurn(hub, session, pacer, cost, first);
  } finally {
    session.inputHeld--;
  }
  if (session.state === "closing") return;
  // The peer is sending; only the server held its line back.
  session.heard(hub.now());
  await run();
}

/** Waits until `cost` fits the budget, or disconnects a flood. */
async function waitForTurn(
  hub: Hub,
  session: Session,
  pacer: FloodPacer,
  cost: LineCost,
  first: Pace,
): Promise<void> {
  let pace = first;
  while (pace.action !== "now") {
    if (pace.action === "disconnect") {
      hub.log("warn", "flood", {
        session: session.id,
        nick: session.nick ?? undefined,
        address: session.address,
        pacedMs: pace.pacedForMs,
      });
      const seconds = pacer.budget.disconnectAfterMs / 1000;
      hub.disconnect(
        session,
        "flood",
        `input kept coming faster than ${pacer.budget.linesPerSecond} lines a second for ${seconds} second${
          seconds === 1 ? "" : "s"
        }`,
      );
      return;
    }
    if (pace.first) {
      hub.answer(session, { type: "notice", text: pacingNotice(pacer) });
    }
    await delay(pace.ms, session);
    if (session.state === "closing") return;
    pace = pacer.admit(cost.lines, cost.bytes, hub.now());
  }
}

/** What a sender is told when its lines start to wait. */
export function pacingNotice(pacer: FloodPacer): string {
  const budget = pacer.budget;
  return `You are sending faster than ${budget.linesPerSecond} lines (${budget.bytesPerSecond} bytes) a second: your lines are being delayed, in order, and none is dropped`;
}

/** Waits `ms`, or less if the session closes meanwhile. */
function delay(ms: number, session: Session): Promise<void> {
  return new Promise((resolve) => {
    let cancel = () => {};
    const done = () => {
      clearTimeout(timer);
      cancel();
      resolve();
    };
    const timer = setTimeout(done, ms);
    cancel = session.onClosing(done);
  });
}
