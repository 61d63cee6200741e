import assert from "node:assert/strict";
import { median } from "../bench/write_floor.ts";

Deno.test("median takes the middle value, or the mean of the two middle ones", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

Deno.test("bench-write-cost measures a C writer, and a Deno writer both ways, against its reader", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../bench/write_cost.ts", import.meta.url).pathname,
      "--clients",
      "20",
      "--bytes",
      "100",
      "--rounds",
      "2",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const rows = text.split("\n").filter((line) => line.includes(" writer: "));
  assert.deepEqual(rows.map((row) => row.split(" ")[0]), [
    "c",
    "deno",
    "send",
  ]);
  for (const row of rows) {
    const cpu = Number(/: ([\d.]+) µs CPU a write/.exec(row)?.[1]);
    const read = Number(/reader ([\d.]+) µs CPU a read/.exec(row)?.[1]);
    assert.ok(Number.isFinite(cpu) && cpu >= 0, row);
    assert.ok(
      Number.isFinite(read) && read >= 0,
      `the reader reported: ${row}`,
    );
  }
});
