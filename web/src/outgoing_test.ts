import assert from "node:assert/strict";
import {
  filledLines,
  pastedRequests,
  requestBytes,
  tooLong,
} from "./outgoing.ts";

Deno.test("filledLines keeps what a paste says, line by line, and drops blank lines", () => {
  assert.deepEqual(filledLines("just one"), ["just one"]);
  assert.deepEqual(filledLines("  indented\n\n\ttabbed\r\n"), [
    "  indented",
    "\ttabbed",
  ]);
  assert.deepEqual(filledLines("\n \r\n"), []);
});

Deno.test("pastedRequests sends every line as text to the conversation on screen", () => {
  assert.deepEqual(
    pastedRequests(["/msg bob x", "//y"], { kind: "private", name: "bob" }, (
      name,
    ) => `to:${name}`),
    [
      { type: "private", to: "bob", text: "/msg bob x", ref: "to:bob" },
      { type: "private", to: "bob", text: "//y", ref: "to:bob" },
    ],
  );
});

Deno.test("tooLong counts a request as the server does: its JSON, escapes and UTF-8 included", () => {
  const say = (text: string) => ({ type: "message" as const, text });
  const overhead = requestBytes(say(""));
  assert.equal(tooLong([say("a".repeat(100 - overhead))], 100), null);
  assert.match(
    tooLong([say("a".repeat(101 - overhead))], 100)!,
    /this message takes 101 bytes, and the server reads at most 100/,
  );
  // A quote is sent as two bytes, an é as two, an emoji as four.
  assert.equal(requestBytes(say('"')) - overhead, 2);
  assert.equal(requestBytes(say("é")) - overhead, 2);
  assert.equal(requestBytes(say("🙂")) - overhead, 4);
  assert.match(
    tooLong([say("fine"), say("x".repeat(200))], 100)!,
    /^Too long to send: line 2 takes/,
  );
});
