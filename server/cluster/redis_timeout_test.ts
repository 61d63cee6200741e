import assert from "node:assert/strict";
import { bounded, RedisTimeout } from "./redis_timeout.ts";

Deno.test("bounded passes an answer in time through, and its failure", async () => {
  assert.equal(await bounded(Promise.resolve(7), 1000), 7);
  await assert.rejects(
    bounded(Promise.reject(new Error("gone")), 1000),
    /gone/,
  );
});

Deno.test("bounded fails a silent command with RedisTimeout, and hands its late answer to onLate", async () => {
  let answer = (_value: number) => {};
  const silent = new Promise<number>((resolve) => answer = resolve);
  const late: number[] = [];
  await assert.rejects(
    bounded(silent, 10, (value) => late.push(value)),
    RedisTimeout,
  );
  answer(3);
  await silent;
  await Promise.resolve();
  assert.deepEqual(late, [3]);
});
