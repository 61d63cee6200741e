import assert from "node:assert/strict";
import { hereSentence } from "./login.ts";

Deno.test("the greeting's head count reads right, and says so when it is not known", () => {
  assert.equal(hereSentence(0), "Nobody is here yet.");
  assert.equal(hereSentence(1), "1 person is here.");
  assert.equal(hereSentence(3), "3 people are here.");
  assert.match(hereSentence(null), /not known right now/);
  assert.doesNotMatch(hereSentence(null), /\d/);
});
