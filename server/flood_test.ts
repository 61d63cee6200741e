import assert from "node:assert/strict";
import { FloodPacer, lineBytes, TokenBucket } from "./flood.ts";

const budget = {
  burstLines: 3,
  linesPerSecond: 2,
  burstBytes: 1000,
  bytesPerSecond: 100,
  disconnectAfterMs: 10_000,
};

Deno.test("TokenBucket refills with time, up to its burst, and caps a cost at it", () => {
  const bucket = new TokenBucket(4, 2, 0);
  assert.equal(bucket.waitMs(4, 0), 0);
  bucket.spend(4);
  assert.equal(bucket.waitMs(1, 0), 500);
  assert.equal(bucket.waitMs(1, 250), 250);
  assert.equal(bucket.waitMs(1, 500), 0);
  assert.equal(
    bucket.waitMs(100, 10_000),
    0,
    "a cost past the burst is capped",
  );
  bucket.spend(100);
  assert.equal(bucket.waitMs(1, 10_000), 500, "and takes the whole burst");
  assert.equal(bucket.take(10_000), false, "a refusing take finds none");
  assert.equal(bucket.take(10_500), true);
});

Deno.test("FloodPacer lets the burst through, then paces each line at the rate", () => {
  const pacer = new FloodPacer(budget, 0);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(pacer.admit(1, 10, 0), { action: "now" });
  }
  assert.deepEqual(pacer.admit(1, 10, 0), {
    action: "wait",
    ms: 500,
    first: true,
  });
  assert.deepEqual(pacer.admit(1, 10, 500), { action: "now" });
  // The next buffered line waits again, in the same spell: no new notice.
  assert.deepEqual(pacer.admit(1, 10, 500), {
    action: "wait",
    ms: 500,
    first: false,
  });
  assert.deepEqual(pacer.admit(1, 10, 1000), { action: "now" });
  // A spell ends once the burst has had time to refill (1.5 s here).
  assert.deepEqual(pacer.admit(1, 10, 5000), { action: "now" });
  for (let i = 0; i < 2; i++) pacer.admit(1, 10, 5000);
  assert.deepEqual(pacer.admit(1, 10, 5000), {
    action: "wait",
    ms: 500,
    first: true,
  });
});

Deno.test("FloodPacer meters bytes as well as lines; a blank line costs only bytes", () => {
  const pacer = new FloodPacer(budget, 0);
  assert.deepEqual(pacer.admit(1, 900, 0), { action: "now" });
  assert.deepEqual(pacer.admit(1, 300, 0), {
    action: "wait",
    ms: 2000,
    first: true,
  }, "200 bytes short at 100 a second");
  assert.deepEqual(pacer.admit(1, 300, 2000), { action: "now" });
  const blanks = new FloodPacer(budget, 0);
  for (let i = 0; i < 50; i++) {
    assert.deepEqual(blanks.admit(0, 1, 0), { action: "now" });
  }
});

Deno.test("FloodPacer disconnects only input that keeps coming past the budget for long", () => {
  const pacer = new FloodPacer(budget, 0);
  let now = 0;
  for (let i = 0; i < 3; i++) pacer.admit(1, 10, now);
  // A flooder: every line is already waiting when its turn comes.
  let verdict = pacer.admit(1, 10, now);
  while (verdict.action !== "disconnect" && now < 60_000) {
    if (verdict.action === "wait") now += verdict.ms;
    verdict = pacer.admit(1, 10, now);
  }
  assert.equal(verdict.action, "disconnect");
  assert.ok(now > 10_000 && now <= 10_500, `cut at ${now} ms`);
  // A paste that pauses before the limit is never cut.
  const paster = new FloodPacer(budget, 0);
  now = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 15; i++) {
      let pace = paster.admit(1, 10, now);
      while (pace.action === "wait") {
        now += pace.ms;
        pace = paster.admit(1, 10, now);
      }
      assert.equal(pace.action, "now", `round ${round}, line ${i}`);
    }
    now += 10_000; // the person reads the replies
  }
});

Deno.test("FloodPacer never cuts a sender that keeps to the rate, give or take", () => {
  const pacer = new FloodPacer(budget, 0);
  let now = 0;
  let notices = 0;
  // Ten minutes of a line every 500 ms, each up to 20 ms early or late.
  for (let i = 0; i < 1200; i++) {
    now = i * 500 + ((i * 7919) % 41) - 20;
    let pace = pacer.admit(1, 10, now);
    while (pace.action === "wait") {
      if (pace.first) notices++;
      now += pace.ms;
      pace = pacer.admit(1, 10, now);
    }
    assert.equal(pace.action, "now", `line ${i}`);
  }
  assert.ok(notices <= 1, `${notices} notices`);
});

Deno.test("lineBytes counts UTF-8 bytes and the newline without encoding", () => {
  for (const text of ["", "hello", "été", "日本語", "👍 ok", "a\u{10348}b"]) {
    assert.equal(lineBytes(text), new TextEncoder().encode(text).length + 1);
  }
});
