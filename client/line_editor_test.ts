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

Deno.test("LineEditor deletes a family emoji and a flag as one character each", () => {
  const editor = new LineEditor();
  const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}";
  const flag = "\u{1F1EB}\u{1F1F7}";
  // Typed one code point at a time, as a terminal may deliver them.
  for (const char of `a${family}b${flag}`) editor.feed(char);
  assert.equal(editor.cursor, 4);
  editor.feed("\x7f");
  assert.equal(editor.text, `a${family}b`, "the whole flag goes");
  editor.feed("\x7f\x7f");
  assert.equal(editor.text, "a", "the whole family goes, joiners and all");
  editor.feed(`e\u0301${flag}`);
  editor.feed(LEFT + LEFT + "\x7f");
  assert.equal(editor.text, `e\u0301${flag}`, "Backspace after the accent");
  assert.equal(editor.cursor, 0);
});

Deno.test("LineEditor gives a flag two columns and moves over it in one step", () => {
  const editor = new LineEditor();
  editor.feed("\u{1F1EB}\u{1F1F7}x");
  editor.feed(LEFT + LEFT);
  assert.equal(editor.cursor, 0);
  editor.feed(RIGHT);
  // "> " is two columns; the flag two more.
  assert.ok(editor.render("> ", 80).endsWith("\r\x1b[4C"));
});

Deno.test("LineEditor keeps password commands out of Up-arrow recall", () => {
  const editor = new LineEditor();
  editor.feed("hello\r");
  for (
    const secret of [
      "/oper hunter2",
      "/register pw12345678",
      "/IDENTIFY alice pw",
      "/pass sesame",
    ]
  ) {
    assert.deepEqual(editor.feed(`${secret}\r`), [{
      type: "submit",
      line: secret,
    }]);
  }
  editor.feed(UP);
  assert.equal(editor.text, "hello");
  editor.feed(UP);
  assert.equal(editor.text, "hello", "nothing older was kept");
  editor.feed("\x15/operators are nice\r" + UP);
  assert.equal(
    editor.text,
    "/operators are nice",
    "only the commands are secret",
  );
});

Deno.test("LineEditor submits a multi-line paste as lines in order", () => {
  const editor = new LineEditor();
  assert.deepEqual(editor.feed("one\r\ntwo\nthree\r"), [
    { type: "submit", line: "one" },
    { type: "submit", line: "" },
    { type: "submit", line: "two" },
    { type: "submit", line: "three" },
  ]);
});

Deno.test("LineEditor erases a line that wraps after the terminal shrinks", () => {
  const editor = new LineEditor();
  editor.feed("x".repeat(60));
  editor.render("> ", 80);
  assert.equal(editor.eraseAfterResize(40), "\x1b[1A\r\x1b[J");
  assert.equal(editor.eraseAfterResize(100), "\r\x1b[J");
});
