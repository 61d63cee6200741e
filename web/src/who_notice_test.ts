import assert from "node:assert/strict";
import { whoNotice } from "./who_notice.ts";

Deno.test("web /who: a page lists its members, away ones marked", () => {
  assert.equal(
    whoNotice({
      type: "who",
      room: "#dev",
      members: [{ nick: "ann" }, { nick: "bob", away: "lunch" }],
    }),
    "#dev: ann, bob (away)",
  );
});

Deno.test("web /who: a page past the last member says so and how to start over", () => {
  assert.equal(
    whoNotice({ type: "who", room: "#dev", members: [], count: 3 }),
    "#dev (3): no members after that name; /who #dev starts from the top",
  );
});
