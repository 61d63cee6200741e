import assert from "node:assert/strict";
import { LineEditor } from "./line_editor.ts";

const LEFT = "\x1b[D";
const RIGHT = "\x1b[C";
const UP = "\x1b[A";
const DOWN = "\x1b[B";

Deno.test("LineEditor inserts, moves and deletes", () => {
  const editor = new LineEditor();
  editor.feed("helo");
  editor.feed(LEFT);
  editor.feed("l");
  assert.equal(editor.text, "hello");
  assert.equal(editor.cursor, 4);
  editor.feed("\x01"); // Ctrl-A
  editor.feed("\x1b[3~"); // Delete
  assert.equal(editor.text, "ello");
  editor.feed("\x05\x7f"); // Ctrl-E, Backspace
  assert.equal(editor.text, "ell");
  editor.feed(RIGHT + RIGHT);
  assert.equal(editor.cursor, 3, "right stops at the end");
});

Deno.test("LineEditor submits on Enter and recalls history with Up/Down", () => {
  const editor = new LineEditor();
  assert.deepEqual(editor.feed("first\r"), [{ type: "submit", line: "first" }]);
  assert.deepEqual(editor.feed("second\r"), [{
    type: "submit",
    line: "second",
  }]);
  editor.feed("draft");
  editor.feed(UP);
  assert.equal(editor.text, "second");
  editor.feed(UP);
  assert.equal(editor.text, "first");
  editor.feed(UP);
  assert.equal(editor.text, "first", "stays at the oldest");
  editor.feed(DOWN + DOWN);
  assert.equal(editor.text, "draft", "the unfinished line comes back");
});

Deno.test("LineEditor quits on Ctrl-C, and on Ctrl-D only when empty", () => {
  assert.deepEqual(new LineEditor().feed("abc\x03"), [{ type: "quit" }]);
  const editor = new LineEditor();
  assert.deepEqual(editor.feed("ab\x01\x04"), []);
  assert.equal(editor.text, "b", "Ctrl-D deletes under the cursor");
  assert.deepEqual(new LineEditor().feed("\x04"), [{ type: "quit" }]);
});

Deno.test("LineEditor handles Ctrl-U, Ctrl-W and escapes split across reads", () => {
  const editor = new LineEditor();
  editor.feed("one two three");
  editor.feed("\x17");
  assert.equal(editor.text, "one two ");
  editor.feed("\x15");
  assert.equal(editor.text, "");
  editor.feed("ab");
  editor.feed("\x1b");
  editor.feed("[");
  editor.feed("D");
  editor.feed("X");
  assert.equal(editor.text, "aXb");
});

Deno.test("LineEditor ignores control bytes and unknown escapes", () => {
  const editor = new LineEditor();
  editor.feed("a\x00\x1b[99Zb\x07c");
  assert.equal(editor.text, "abc");
});

Deno.test("LineEditor.render keeps the cursor visible on a narrow screen", () => {
  const editor = new LineEditor();
  editor.feed("x".repeat(100));
  const drawn = editor.render("> ", 20);
  assert.ok(drawn.startsWith("\r\x1b[2K> "));
  const visible = drawn.slice("\r\x1b[2K> ".length).split("\r")[0]!;
  assert.ok(visible.length <= 18, `${visible.length} columns`);
  assert.match(drawn, new RegExp("\r\x1b\\[\\d+C$"));
  editor.feed("\x01");
  assert.ok(
    editor.render("> ", 20).endsWith("\r\x1b[2C"),
    "cursor after the prompt",
  );
});

Deno.test("LineEditor keeps secret lines out of history and masks them", () => {
  const editor = new LineEditor();
  editor.feed("public\r");
  editor.secret = true;
  assert.deepEqual(editor.feed("hunter2\r"), [
    { type: "submit", line: "hunter2" },
  ]);
  editor.feed("abc");
  assert.ok(editor.render("password> ", 80, true).includes("password> ***"));
  editor.secret = false;
  editor.feed("\x15\x1b[A");
  assert.equal(editor.text, "public", "the password was never recorded");
});
