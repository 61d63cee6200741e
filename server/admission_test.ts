import assert from "node:assert/strict";
import { AddressCounts, admissionRefusal } from "./admission.ts";

const LIMITS = { maxConnections: 3, maxPerAddress: 2 };

Deno.test("admission lets a connection in under every limit", () => {
  assert.equal(
    admissionRefusal({ ban: undefined, open: 2, fromAddress: 1 }, LIMITS),
    null,
  );
});

Deno.test("admission refuses a full server, then an address over its share", () => {
  assert.equal(
    admissionRefusal({ ban: undefined, open: 3, fromAddress: 0 }, LIMITS),
    "The server is full; try again later",
  );
  assert.equal(
    admissionRefusal({ ban: undefined, open: 2, fromAddress: 2 }, LIMITS),
    "Too many connections from your address (at most 2)",
  );
  assert.equal(
    admissionRefusal(
      { ban: undefined, open: 2, fromAddress: 50 },
      { maxConnections: 3, maxPerAddress: 0 },
    ),
    null,
    "0 means no per-address limit",
  );
});

Deno.test("admission names a ban's end and reason, and a ban comes first", () => {
  assert.equal(
    admissionRefusal({
      ban: {
        address: "::1",
        by: "op",
        until: Date.UTC(2026, 0, 1, 12),
        reason: "spam",
      },
      open: 99,
      fromAddress: 99,
    }, LIMITS),
    "You are banned until 2026-01-01 12:00:00 UTC: spam",
  );
  assert.equal(
    admissionRefusal(
      { ban: { address: "::1", by: "op" }, open: 0, fromAddress: 0 },
      LIMITS,
    ),
    "You are banned",
  );
});

Deno.test("AddressCounts counts up and down and forgets an address at zero", () => {
  const counts = new AddressCounts();
  counts.add("::1");
  counts.add("::1");
  counts.add("10.0.0.1");
  assert.equal(counts.get("::1"), 2);
  counts.remove("::1");
  counts.remove("::1");
  assert.equal(counts.get("::1"), 0);
  assert.equal(counts.get("10.0.0.1"), 1);
});
