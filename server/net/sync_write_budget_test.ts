import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { SyncWriteBudget } from "./sync_write_budget.ts";

/** Resolves after the budget's turn, which was armed before this. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

Deno.test("SyncWriteBudget admits so many writes a turn, then again the next", async () => {
  const budget = new SyncWriteBudget(3);
  assert.equal(budget.enabled, true);
  assert.deepEqual([1, 2, 3, 4].map(() => budget.admit()), [
    true,
    true,
    true,
    false,
  ]);
  await nextTurn();
  assert.equal(budget.admit(), true);
  await nextTurn();
});

Deno.test("SyncWriteBudget runs those put off first, in order, a turn's worth at a time", async () => {
  const budget = new SyncWriteBudget(2);
  assert.equal(budget.admit(), true);
  assert.equal(budget.admit(), true);
  const ran: string[] = [];
  for (const name of ["a", "b", "c"]) budget.later(() => ran.push(name));
  assert.equal(budget.waiting, 3);
  await nextTurn();
  assert.deepEqual(ran, ["a", "b"]);
  // Someone new waits behind the one still put off.
  assert.equal(budget.admit(), false);
  budget.later(() => ran.push("d"));
  await nextTurn();
  assert.deepEqual(ran, ["a", "b", "c", "d"]);
  assert.equal(budget.waiting, 0);
  await nextTurn();
  assert.equal(budget.admit(), true);
  await nextTurn();
});

Deno.test("SyncWriteBudget of 0 is off", () => {
  const budget = new SyncWriteBudget(0);
  assert.equal(budget.enabled, false);
});
