import assert from "node:assert/strict";
import { encodeEnvelope, readEntry } from "./waiting_entry.ts";

const draft = {
  type: "private" as const,
  ts: 1_700_000_000_000,
  from: "carol",
  to: "bob",
  text: 'are you there? {"not": json} 🙂',
};

Deno.test("waiting entry: the id in front and the envelope read back as sent", () => {
  const entry = `42 ${encodeEnvelope(draft, "::1")}`;
  assert.deepEqual(readEntry(entry), {
    message: { ...draft, id: 42 },
    address: "::1",
  });
});

Deno.test("waiting entry: an entry this code cannot read is null, never a throw", () => {
  const envelope = encodeEnvelope(draft, "127.0.0.1");
  for (
    const entry of [
      "",
      envelope,
      ` ${envelope}`,
      `x ${envelope}`,
      `0 ${envelope}`,
      `1.5 ${envelope}`,
      "7 {not json",
      "7 null",
      '7 {"m":{"type":"message"},"a":"x"}',
      `7 ${JSON.stringify({ m: { ...draft, text: 3 }, a: "x" })}`,
      `7 ${JSON.stringify({ m: draft })}`,
    ]
  ) {
    assert.equal(readEntry(entry), null, entry);
  }
});
