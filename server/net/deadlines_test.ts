import assert from "node:assert/strict";
import {
  type DeadlineState,
  dueDeadline,
  sweepIntervalMs,
} from "./deadlines.ts";
import { DEFAULT_LIMITS, type Limits } from "../limits.ts";

const limits: Limits = {
  ...DEFAULT_LIMITS,
  writeTimeoutMs: 10_000,
  loginTimeoutMs: 60_000,
  pingIntervalMs: 90_000,
  pingTimeoutMs: 60_000,
  idleTimeoutMs: 0,
};

const connection = (changes: Partial<DeadlineState>): DeadlineState => ({
  state: "active",
  codec: "json",
  connectedAt: 0,
  lastInputAt: 0,
  pingToken: null,
  pingSentAt: 0,
  writePendingSince: 0,
  overSoftSince: 0,
  ...changes,
});

Deno.test("dueDeadline: a login past its deadline is cut, not before", () => {
  const login = connection({ state: "login", codec: "text" });
  assert.equal(dueDeadline(login, 60_000, limits), null);
  assert.deepEqual(dueDeadline(login, 60_001, limits), {
    action: "disconnect",
    reason: "timeout",
    detail: "login took too long",
  });
});

Deno.test("dueDeadline: a silent JSON client is pinged, then dropped if it never answers", () => {
  assert.equal(dueDeadline(connection({}), 90_000, limits), null);
  assert.deepEqual(dueDeadline(connection({}), 90_001, limits), {
    action: "ping",
  });
  const pinged = connection({ pingToken: "t", pingSentAt: 90_001 });
  assert.equal(dueDeadline(pinged, 150_001, limits), null);
  assert.deepEqual(dueDeadline(pinged, 150_002, limits), {
    action: "disconnect",
    reason: "timeout",
    detail: "no answer to ping",
  });
});

Deno.test("dueDeadline: text clients are never pinged; idle only when set", () => {
  const text = connection({ codec: "text" });
  assert.equal(dueDeadline(text, 10 * 86_400_000, limits), null);
  const strict = { ...limits, idleTimeoutMs: 300_000 };
  assert.equal(dueDeadline(text, 300_000, strict), null);
  assert.equal(dueDeadline(text, 300_001, strict)?.action, "disconnect");
});

Deno.test("dueDeadline: a write stuck past its deadline wins over everything", () => {
  const stuck = connection({ state: "login", writePendingSince: 5_000 });
  assert.equal(dueDeadline(stuck, 15_000, limits), null);
  assert.deepEqual(dueDeadline(stuck, 15_001, limits), {
    action: "disconnect",
    reason: "slow",
    detail: "its connection took nothing new for 10 seconds",
  });
  assert.equal(
    dueDeadline({ ...stuck, state: "closing" }, 99_999, limits),
    null,
  );
});

Deno.test("sweepIntervalMs is a quarter of the shortest deadline, within 20 ms to 1 s", () => {
  assert.equal(sweepIntervalMs(limits), 1000);
  assert.equal(sweepIntervalMs({ ...limits, loginTimeoutMs: 400 }), 100);
  assert.equal(sweepIntervalMs({ ...limits, writeTimeoutMs: 10 }), 20);
  assert.equal(sweepIntervalMs({ ...limits, sendQueueSoftMs: 2000 }), 500);
});
