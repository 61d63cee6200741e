/**
 * The benchmark's own parsing and statistics: what it reports depends on
 * them, so they are tested like the server is.
 */

import assert from "node:assert/strict";
import { parseHeader, payload } from "../bench/protocol.ts";
import { ChunkScanner } from "../bench/scanner.ts";
import { Histogram, median } from "../bench/stats.ts";

const encoder = new TextEncoder();
const header = () => ({ sender: -1, seq: -1, sentUs: -1 });

Deno.test("bench: a payload's header parses back to what it was made from", () => {
  const text = payload(12, 345, 6789012.4, 64);
  assert.equal(text.length, 64);
  const bytes = encoder.encode(`<user4> ${text}`);
  const out = header();
  const next = parseHeader(bytes, 8, bytes.length, out);
  assert.deepEqual(out, { sender: 12, seq: 345, sentUs: 6789012 });
  assert.equal(bytes[next - 1], 0x3b, "just past the ;");
});

Deno.test("bench: a header cut short or malformed is refused", () => {
  for (
    const text of [
      "^b3,17,123456",
      "^b3,,1;",
      "^c3,1,1;",
      "^b,1,2;",
      "^b1,2,3,",
    ]
  ) {
    const bytes = encoder.encode(text);
    assert.equal(parseHeader(bytes, 0, bytes.length, header()), -1, text);
  }
});

Deno.test("bench: the scanner finds messages across chunk boundaries and counts cut ones", () => {
  const found: number[] = [];
  const controls: string[] = [];
  let garbled = 0;
  const scanner = new ChunkScanner({
    message: (h) => found.push(h.seq),
    garbled: () => garbled++,
    control: (bytes, start, end) =>
      controls.push(new TextDecoder().decode(bytes.subarray(start, end))),
  }, 32);
  const lines = [
    `<a> ${payload(1, 1, 5, 32)}`,
    "*** bob joined #lobby",
    `<a> ${payload(1, 2, 6, 32)}`,
    `<a> ${payload(1, 3, 7, 32).slice(0, 6)}`,
  ].join("\n") + "\n";
  const bytes = encoder.encode(lines);
  // Pieces whose boundaries fall inside messages and control lines.
  scanner.push(bytes.subarray(0, 20), 0);
  scanner.push(bytes.subarray(20, 61), 0);
  scanner.push(bytes.subarray(61), 0);
  assert.deepEqual(found, [1, 2]);
  assert.ok(controls.includes("*** bob joined #lobby"));
  assert.equal(garbled, 1, "the message cut in two");
});

Deno.test("bench: histogram quantiles stay within a bucket, max and median exact", () => {
  const histogram = new Histogram();
  for (let v = 1; v <= 10_000; v++) histogram.record(v);
  for (const [q, exact] of [[0.5, 5000], [0.9, 9000], [0.99, 9900]] as const) {
    const got = histogram.quantile(q);
    assert.ok(
      Math.abs(got - exact) / exact < 0.02,
      `q${q}: ${got} vs ${exact}`,
    );
  }
  assert.equal(histogram.max, 10_000);
  assert.equal(histogram.count, 10_000);
  assert.equal(median([3, null, 1, Infinity, 2]), 2);
  assert.equal(median([null]), null);
});
