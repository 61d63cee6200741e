import assert from "node:assert/strict";
import type { RoomMessage } from "../wire/events.ts";
import { resumeReplay } from "./resume.ts";

const m = (id: number): RoomMessage => ({
  type: "message",
  id,
  ts: 0,
  room: "#a",
  from: "bob",
  text: `m${id}`,
});

Deno.test("resumeReplay shows only what was not seen before the reconnect", () => {
  const replay = [m(3), m(4), m(5), m(6)];
  assert.deepEqual(resumeReplay("#a", replay, 4, true), {
    messages: [m(5), m(6)],
    earlier: null,
  });
  assert.deepEqual(resumeReplay("#a", replay, 6, true).messages, []);
});

Deno.test("resumeReplay says how to see what a cut replay left out", () => {
  // Seen up to 2; the server replayed 10..12 of more: 3..9 were missed too.
  assert.deepEqual(resumeReplay("#a", [m(10), m(11), m(12)], 2, true), {
    messages: [m(10), m(11), m(12)],
    earlier: "/history #a before 10",
  });
  assert.equal(
    resumeReplay("#a", [m(3), m(4)], 2, true).earlier,
    null,
    "nothing missing between",
  );
  assert.equal(resumeReplay("#a", [m(10)], 2, false).earlier, null);
});
