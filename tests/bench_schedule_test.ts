import assert from "node:assert/strict";
import { scheduleLatency } from "../bench/schedule_latency.ts";

for (const writes of ["sync", "async"] as const) {
  Deno.test(`bench-schedule measures every probed member's wait for every message (${writes} writes)`, async () => {
    const result = await scheduleLatency({
      members: 40,
      writeUs: 5,
      everyMs: 5,
      perTick: 1,
      seconds: 1.5,
      probes: 8,
      writes,
    });
    assert.equal(result.probes, 8);
    assert.ok(result.measuredMessages > 0, "messages were added after warm-up");
    const expected = result.measuredMessages * result.probes;
    // The last few messages may still be on their way when the run ends.
    assert.ok(
      result.samples >= 0.8 * expected && result.samples <= expected,
      `${result.samples} waits measured of ${expected}`,
    );
    const { p50, p90, p99, max } = result.waitMs;
    assert.ok(
      0 <= p50 && p50 <= p90 && p90 <= p99 && p99 <= max,
      `${p50}..${max}`,
    );
    assert.ok(max < 1000, `a room of 40 waits well under a second (${max} ms)`);
    assert.ok(result.writesPerSecond > 0 && result.deliveriesPerCpuSecond > 0);
  });
}
