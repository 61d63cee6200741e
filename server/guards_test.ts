import assert from "node:assert/strict";
import {
  ConnectionRate,
  FORGET_FAILURES_MS,
  HASHES_PER_ADDRESS,
  HashQueue,
  LoginThrottle,
  WindowCounter,
} from "./guards.ts";

Deno.test("LoginThrottle: free tries, then delays that double up to a cap", () => {
  const throttle = new LoginThrottle({
    freeFailures: 3,
    firstDelayMs: 1000,
    maxDelayMs: 8000,
  });
  const keys = ["account:1", "address:10.0.0.1"];
  let now = 0;
  for (let i = 0; i < 3; i++) {
    assert.equal(throttle.waitMs(keys, now), 0);
    throttle.fail(keys, now);
  }
  const waits = [throttle.waitMs(keys, now)];
  for (let i = 0; i < 5; i++) {
    now += waits.at(-1)!;
    throttle.fail(keys, now);
    waits.push(throttle.waitMs(keys, now));
  }
  now += waits.at(-1)!;
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 8000, 8000]);
  // Another account from the same address waits too; the address is the key.
  assert.equal(throttle.waitMs(["account:2", "address:10.0.0.1"], now - 1), 1);
  assert.equal(throttle.waitMs(["account:2", "address:10.0.0.2"], now), 0);
  // Success clears only what it names; quiet time clears the rest.
  throttle.succeed(["account:1"]);
  assert.equal(throttle.waitMs(["account:1"], now - 1), 0);
  assert.equal(throttle.waitMs(["address:10.0.0.1"], now + 8_000), 0);
  throttle.fail(["address:10.0.0.1"], now + 8_000);
  assert.equal(
    throttle.waitMs(["address:10.0.0.1"], now + 8_000),
    8000,
    "a pause does not reset the count",
  );
  const later = now + 8_000 + FORGET_FAILURES_MS + 1;
  assert.equal(throttle.waitMs(["address:10.0.0.1"], later), 0);
  throttle.fail(["address:10.0.0.1"], later);
  assert.equal(throttle.waitMs(["address:10.0.0.1"], later), 0, "forgotten");
});

Deno.test("LoginThrottle remembers a bounded number of keys", () => {
  const throttle = new LoginThrottle({
    freeFailures: 0,
    firstDelayMs: 1000,
    maxDelayMs: 1000,
    maxKeys: 100,
  });
  for (let i = 0; i < 1000; i++) throttle.fail([`address:${i}`], 0);
  assert.equal(throttle.size, 100);
  assert.equal(throttle.waitMs(["address:999"], 0), 1000);
});

Deno.test("ConnectionRate: a burst, then the rate, per address", () => {
  const rate = new ConnectionRate(3, 0.5);
  for (let i = 0; i < 3; i++) assert.equal(rate.allow("a", 0), true);
  assert.equal(rate.allow("a", 0), false);
  assert.equal(rate.allow("b", 0), true, "other addresses are not affected");
  assert.equal(rate.allow("a", 1999), false);
  assert.equal(rate.allow("a", 2000), true);
  assert.equal(new ConnectionRate(1, 0).allow("a", 0), true, "0: off");
});

Deno.test("WindowCounter counts within its window", () => {
  const counter = new WindowCounter(1000);
  counter.record("a", 0);
  counter.record("a", 500);
  assert.equal(counter.count("a", 900), 2);
  assert.equal(counter.count("a", 1200), 1);
  assert.equal(counter.count("a", 1600), 0);
  assert.equal(counter.count("b", 0), 0);
});

Deno.test("HashQueue runs one job at a time, bounds waiting and each address", async () => {
  const queue = new HashQueue(3);
  let running = 0;
  let most = 0;
  const order: string[] = [];
  const job = (name: string) => async () => {
    running++;
    most = Math.max(most, running);
    order.push(name);
    await Promise.resolve();
    running--;
    return name;
  };
  const a1 = queue.run("a", job("a1"));
  const a2 = queue.run("a", job("a2"));
  assert.deepEqual(await queue.run("a", job("a3")), {
    ok: false,
    why: "address_busy",
  }, `at most ${HASHES_PER_ADDRESS} per address`);
  const b1 = queue.run("b", job("b1"));
  const c1 = queue.run("c", job("c1"));
  assert.deepEqual(await queue.run("d", job("d1")), {
    ok: false,
    why: "queue_full",
  });
  const results = await Promise.all([a1, a2, b1, c1]);
  assert.deepEqual(results.map((r) => r.ok && r.value), [
    "a1",
    "a2",
    "b1",
    "c1",
  ]);
  assert.equal(most, 1, "never two at once");
  assert.deepEqual(
    order,
    ["a1", "b1", "c1", "a2"],
    "a second job of one address waits for the others' turns",
  );
  assert.equal(queue.size, 0);
  assert.deepEqual(await queue.run("a", job("a4")), { ok: true, value: "a4" });
});
