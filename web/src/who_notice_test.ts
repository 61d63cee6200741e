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

Deno.test("web /who: a page of a bigger list gives the count and how to go on", () => {
  assert.equal(
    whoNotice({
      type: "who",
      room: "#big",
      members: [{ nick: "ann" }, { nick: "bea" }],
      count: 10_000,
      next: "bea",
    }),
    "#big (10000): ann, bea; more: /who more",
  );
  assert.equal(
    whoNotice({
      type: "who",
      room: "#big",
      members: [{ nick: "zed" }],
      count: 10_000,
    }),
    "#big (10000): zed",
  );
});

Deno.test("web /who: a page not put in the member list names its own next page", () => {
  assert.equal(
    whoNotice({
      type: "who",
      room: "#big",
      members: [{ nick: "m501" }],
      count: 10_000,
      next: "m501",
    }, false),
    "#big (10000): m501; more: /who #big after m501",
  );
});
