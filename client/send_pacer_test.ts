import assert from "node:assert/strict";
import { announcedPace, SendPacer } from "./send_pacer.ts";

Deno.test("announcedPace reads the welcome's rate, or null without one", () => {
  assert.deepEqual(
    announcedPace({
      type: "welcome",
      rate: { lines: 2, burst: 10, bytes: 4096, burstBytes: 40960 },
    }),
    { lines: 2, burst: 10, bytes: 4096, burstBytes: 40960 },
  );
  assert.deepEqual(announcedPace({ rate: { lines: 5 } }), {
    lines: 5,
    burst: 1,
  });
  for (const odd of [{}, { rate: null }, { rate: { lines: 0 } }, null, 7]) {
    assert.equal(announcedPace(odd), null, JSON.stringify(odd));
  }
});

Deno.test("SendPacer lets a burst go, then spaces lines a little under the rate", () => {
  const pacer = new SendPacer({ lines: 10, burst: 5 }, 0);
  let sent = 0;
  while (pacer.wait(0, 10) === 0) {
    pacer.take(0, 10);
    sent++;
  }
  assert.equal(sent, 4, "90 % of a burst of 5");
  // 9 lines a second: the next line after about 111 ms.
  assert.equal(pacer.wait(0, 10), 112);
  assert.equal(pacer.wait(112, 10), 0);
});

Deno.test("SendPacer also keeps to the bytes a second", () => {
  const pacer = new SendPacer(
    { lines: 100, burst: 100, bytes: 1000, burstBytes: 1000 },
    0,
  );
  pacer.take(0, 900);
  assert.ok(pacer.wait(0, 500) > 0, "the byte budget holds a long line back");
  assert.equal(pacer.wait(0, 0), 0);
});
