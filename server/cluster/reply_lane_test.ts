import assert from "node:assert/strict";
import { type LaneClock, ReplyLane } from "./reply_lane.ts";

/** A clock that moves only when told, with its one pending timer. */
class FakeClock implements LaneClock {
  time = 0;
  timer: { wake: () => void; at: number } | null = null;
  now(): number {
    return this.time;
  }
  set(wake: () => void, ms: number): unknown {
    assert.equal(this.timer, null, "one timer at a time");
    this.timer = { wake, at: this.time + ms };
    return this.timer;
  }
  clear(handle: unknown): void {
    if (this.timer === handle) this.timer = null;
  }
  /** Moves to `time`, firing the timer if it is due. */
  advance(time: number): void {
    this.time = time;
    const timer = this.timer;
    if (timer !== null && timer.at <= time) {
      this.timer = null;
      timer.wake();
    }
  }
}

function laneWith(clock: FakeClock, timeoutMs = 1000) {
  const said: string[] = [];
  let emptied = 0;
  const lane = new ReplyLane({
    timeoutMs,
    clock,
    emptied: () => emptied++,
  });
  const answer = (text: string) => () => said.push(text);
  return { lane, said, answer, emptied: () => emptied };
}

Deno.test("ReplyLane holds nothing while no send is in flight", () => {
  const clock = new FakeClock();
  const { lane, answer, said } = laneWith(clock);
  assert.equal(lane.hold(answer("now")), false, "the caller sends it now");
  assert.deepEqual(said, []);
  assert.equal(lane.busy, false);
  assert.equal(lane.drained(), undefined);
  assert.equal(clock.timer, null);
});

Deno.test("ReplyLane lets each answer go once the sends before it are answered, and no sooner", () => {
  const clock = new FakeClock();
  const { lane, answer, said, emptied } = laneWith(clock);
  lane.sent(1);
  assert.ok(lane.hold(answer("after 1")));
  lane.sent(2);
  assert.ok(lane.hold(answer("after 2")));
  assert.deepEqual(said, []);
  lane.settle(1);
  assert.deepEqual(said, ["after 1"], "stops at the next send in flight");
  lane.settle(1);
  assert.deepEqual(said, ["after 1"], "a token settles once");
  lane.settle(2);
  assert.deepEqual(said, ["after 1", "after 2"]);
  assert.equal(lane.busy, false);
  assert.equal(emptied(), 1);
  assert.equal(clock.timer, null, "no timer once empty");
});

Deno.test("ReplyLane: a later send answered first holds nothing back, and lets nothing past an earlier one", () => {
  const clock = new FakeClock();
  const { lane, answer, said } = laneWith(clock);
  lane.sent(1);
  lane.hold(answer("a"));
  lane.sent(2);
  lane.hold(answer("b"));
  lane.settle(2);
  assert.deepEqual(said, [], "send 1 still holds both");
  lane.settle(1);
  assert.deepEqual(said, ["a", "b"]);
});

Deno.test("ReplyLane lets a send go once its time is up, and the answers behind it", () => {
  const clock = new FakeClock();
  const { lane, answer, said } = laneWith(clock, 1000);
  lane.sent(1);
  lane.hold(answer("a"));
  clock.advance(400);
  lane.sent(2);
  lane.hold(answer("b"));
  clock.advance(999);
  assert.deepEqual(said, []);
  clock.advance(1000);
  assert.deepEqual(said, ["a"], "send 2 has 400 ms to go");
  assert.equal(clock.timer?.at, 1400);
  clock.advance(1400);
  assert.deepEqual(said, ["a", "b"]);
  assert.equal(lane.busy, false);
  lane.settle(2);
  assert.deepEqual(said, ["a", "b"], "a late answer changes nothing");
});

Deno.test("ReplyLane: a wait for it to empty settles when the last send is answered", async () => {
  const clock = new FakeClock();
  const { lane } = laneWith(clock);
  lane.sent(7);
  let drained = false;
  const waiting = lane.drained()!.then(() => drained = true);
  await Promise.resolve();
  assert.equal(drained, false);
  lane.settle(7);
  await waiting;
  assert.equal(drained, true);
});

Deno.test("ReplyLane: a held answer that throws is reported and the rest still go", () => {
  const clock = new FakeClock();
  const errors: unknown[] = [];
  const said: string[] = [];
  const lane = new ReplyLane({
    timeoutMs: 1000,
    clock,
    failed: (error) => errors.push(error),
  });
  lane.sent(1);
  lane.hold(() => {
    throw new Error("broken");
  });
  lane.hold(() => said.push("next"));
  lane.settle(1);
  assert.equal(errors.length, 1);
  assert.deepEqual(said, ["next"]);
});

Deno.test("ReplyLane: closing drops what it holds, stops its timer and ends waits", async () => {
  const clock = new FakeClock();
  const { lane, answer, said } = laneWith(clock);
  lane.sent(1);
  lane.hold(answer("never"));
  const waiting = lane.drained()!;
  lane.close();
  await waiting;
  assert.equal(clock.timer, null);
  lane.settle(1);
  assert.deepEqual(said, []);
});

Deno.test("ReplyLane: a send whose time is up is told so in its place, before the answers behind it, and only then", () => {
  const clock = new FakeClock();
  const { lane, answer, said } = laneWith(clock, 1000);
  lane.sent(1, () => said.push("1 expired"));
  lane.hold(answer("a"));
  lane.sent(2, () => said.push("2 expired"));
  lane.hold(answer("b"));
  lane.sent(3, () => said.push("3 expired"));
  lane.hold(answer("c"));
  lane.settle(2);
  clock.advance(1000);
  assert.deepEqual(
    said,
    ["1 expired", "a", "b", "3 expired", "c"],
    "one timeout for all three, counted from each send; 2 settled in time",
  );
  assert.equal(lane.busy, false);
  lane.settle(1);
  lane.settle(3);
  assert.equal(said.length, 5, "a late settle tells nothing more");
});

Deno.test("ReplyLane: a send answered in time is never told it expired", () => {
  const clock = new FakeClock();
  const { lane, said } = laneWith(clock, 1000);
  lane.sent(1, () => said.push("expired"));
  clock.advance(999);
  lane.settle(1);
  clock.advance(5000);
  assert.deepEqual(said, []);
  assert.equal(clock.timer, null);
});
