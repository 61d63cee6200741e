import assert from "node:assert/strict";
import { InputHistory } from "./input_history.ts";

Deno.test("input history: Up recalls sent lines, commands too; Down returns to the draft", () => {
  const history = new InputHistory();
  assert.equal(history.up("x"), null);
  history.add("hello");
  history.add("/join #rust");
  history.add("/join #rust");
  history.add("   ");
  history.add("/identify secret");
  assert.deepEqual(history.lines, ["hello", "/join #rust"]);
  assert.equal(history.up("half typ"), "/join #rust");
  assert.equal(history.up("/join #rust"), "hello");
  assert.equal(history.up("hello"), null);
  assert.equal(history.down(), "/join #rust");
  assert.equal(history.down(), "half typ");
  assert.equal(history.down(), null);
  // Sending starts recall again from the newest.
  history.up("");
  history.add("again");
  assert.equal(history.up(""), "again");
});

Deno.test("input history keeps only the newest lines", () => {
  const history = new InputHistory(3);
  for (let i = 1; i <= 5; i++) history.add(`line ${i}`);
  assert.deepEqual(history.lines, ["line 3", "line 4", "line 5"]);
  assert.equal(history.up(""), "line 5");
  assert.equal(history.up(""), "line 4");
  assert.equal(history.up(""), "line 3");
  assert.equal(history.up(""), null);
});
