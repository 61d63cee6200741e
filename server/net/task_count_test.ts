import assert from "node:assert/strict";
import { TaskCount } from "./task_count.ts";

Deno.test("TaskCount: idle at once when nothing runs", async () => {
  const tasks = new TaskCount(() => {});
  assert.equal(tasks.running, 0);
  await tasks.idle();
});

Deno.test("TaskCount: idle waits for every task, failed ones included", async () => {
  const errors: unknown[] = [];
  const tasks = new TaskCount((error) => errors.push(error));
  const first = Promise.withResolvers<void>();
  const second = Promise.withResolvers<void>();
  tasks.add(first.promise);
  tasks.add(second.promise);
  assert.equal(tasks.running, 2);
  let idle = false;
  const waiting = tasks.idle().then(() => idle = true);
  first.resolve();
  await first.promise;
  await Promise.resolve();
  assert.equal(tasks.running, 1);
  assert.equal(idle, false, "one task still runs");
  const failure = new Error("read failed");
  second.reject(failure);
  await waiting;
  assert.equal(idle, true);
  assert.equal(tasks.running, 0);
  assert.deepEqual(errors, [failure]);
});

Deno.test("TaskCount: a throwing error handler still ends the task", async () => {
  const tasks = new TaskCount(() => {
    throw new Error("logger broke");
  });
  const task = Promise.withResolvers<void>();
  tasks.add(task.promise);
  const waiting = tasks.idle();
  task.reject(new Error("lost"));
  // An unhandled rejection would fail this test: none may come of it.
  await waiting;
  assert.equal(tasks.running, 0);
});
