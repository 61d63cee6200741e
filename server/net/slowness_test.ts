import assert from "node:assert/strict";
import { slowDetail, slowRuleDue } from "./slowness.ts";
import { DEFAULT_LIMITS, type Limits } from "../limits.ts";

const limits: Limits = {
  ...DEFAULT_LIMITS,
  writeTimeoutMs: 10_000,
  sendQueueSoftBytes: 1_048_576,
  sendQueueSoftMs: 10_000,
  maxSendQueueBytes: 33_554_432,
};

Deno.test("slowRuleDue: a queue that drains in time is never slow", () => {
  // A clock walking through a reader's life: bursts that go above the soft
  // limit and drain within the period, writes that finish within the
  // deadline. None of it is slowness.
  const clock = [0, 1000, 9_999, 10_000];
  for (const now of clock) {
    assert.equal(
      slowRuleDue({ writePendingSince: 0, overSoftSince: 0 }, now, limits),
      null,
    );
    assert.equal(
      slowRuleDue({ writePendingSince: 1, overSoftSince: 1 }, now, limits),
      null,
      `over the soft limit and writing since 1 ms, at ${now} ms`,
    );
  }
});

Deno.test("slowRuleDue: above the soft limit for the whole period is slow", () => {
  const queue = { writePendingSince: 0, overSoftSince: 5_000 };
  assert.equal(slowRuleDue(queue, 15_000, limits), null);
  assert.equal(slowRuleDue(queue, 15_001, limits), "soft_limit");
});

Deno.test("slowRuleDue: a write pending past the deadline is slow, and wins", () => {
  const queue = { writePendingSince: 2_000, overSoftSince: 2_000 };
  assert.equal(slowRuleDue(queue, 12_000, limits), null);
  assert.equal(slowRuleDue(queue, 12_001, limits), "write_deadline");
  assert.equal(
    slowRuleDue(queue, 12_001, { ...limits, writeTimeoutMs: 60_000 }),
    "soft_limit",
  );
});

Deno.test("slowDetail names the rule and its figures", () => {
  assert.equal(
    slowDetail("write_deadline", limits),
    "its connection took nothing new for 10 seconds",
  );
  assert.equal(
    slowDetail("soft_limit", limits),
    "more than 1048576 bytes waited for it for 10 seconds",
  );
  assert.equal(
    slowDetail("hard_limit", limits),
    "more than 33554432 bytes were waiting for it",
  );
  assert.equal(
    slowDetail("write_deadline", { ...limits, writeTimeoutMs: 1000 }),
    "its connection took nothing new for 1 second",
  );
});
