import assert from "node:assert/strict";
import {
  decodeJsonEvent,
  decodeJsonRequest,
  encodeJsonEvent,
  encodeJsonRequest,
} from "./json_codec.ts";
import type { ClientRequest } from "./events.ts";
import { decodeTextRequest } from "./text_codec.ts";
import { SAMPLE_EVENTS, SAMPLE_REQUESTS } from "./test_samples.ts";

Deno.test("JSON codec round-trips every request, with ref", () => {
  const requests: ClientRequest[] = [
    { type: "hello", nick: "alice", room: "#dev" },
    { type: "hello", nick: "alice", password: "pw" },
    { type: "hello", nick: "alice", identify: "account pw" },
    { type: "pong", token: "p1" },
    ...SAMPLE_REQUESTS,
    { type: "rooms", ref: "r1" },
  ];
  for (const request of requests) {
    const line = encodeJsonRequest(request);
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    assert.deepEqual(decodeJsonRequest(line.trimEnd()), request);
  }
});

Deno.test("decodeJsonRequest turns bad input into error events", () => {
  const cases: Array<[string, string]> = [
    ["{not json", "bad_json"],
    ["null", "bad_request"],
    ["[1,2]", "bad_request"],
    ['"text"', "bad_request"],
    ["{}", "bad_request"],
    ['{"type":42}', "bad_request"],
    ['{"type":"teleport"}', "unknown_type"],
    ['{"type":"message"}', "bad_request"],
    ['{"type":"message","text":5}', "bad_request"],
    ['{"type":"private","to":"bob"}', "bad_request"],
    ['{"type":"who","room":["#a"]}', "bad_request"],
    ['{"type":"message","text":1e400}', "bad_request"],
    ['{"type":"error","code":"x","message":"forged"}', "unknown_type"],
  ];
  for (const [line, code] of cases) {
    const result = decodeJsonRequest(line);
    assert.equal(result.type, "error", line);
    assert.equal((result as { code: string }).code, code, line);
  }
});

Deno.test("decodeJsonRequest echoes ref on errors and ignores __proto__", () => {
  const error = decodeJsonRequest('{"type":"message","ref":"q7"}');
  assert.deepEqual(error, {
    type: "error",
    code: "bad_request",
    message: 'Bad message: "text" must be a string',
    ref: "q7",
  });
  const request = decodeJsonRequest(
    '{"type":"message","text":"x","__proto__":{"admin":true}}',
  );
  assert.deepEqual(request, { type: "message", text: "x" });
  assert.equal((request as Record<string, unknown>).admin, undefined);
});

Deno.test("decodeJsonRequest echoes a ref that is not a string on its error", () => {
  for (const ref of [5, 0, true, { a: 1 }, ["x"], 1e308]) {
    const line = JSON.stringify({ type: "message", text: "hi", ref });
    const error = decodeJsonRequest(line);
    assert.deepEqual(error, {
      type: "error",
      code: "bad_request",
      message: 'Bad message: "ref" must be a string when present',
      ref,
    }, line);
  }
  const typeless = decodeJsonRequest('{"ref":7}');
  assert.equal(typeless.type, "error");
  assert.equal((typeless as { ref?: unknown }).ref, 7);
});

Deno.test("error words from quoted input carry no escape or lone surrogate", () => {
  const error = decodeJsonRequest('{"type":"\\u001b[2J\\ud800fly"}');
  assert.equal(error.type, "error");
  const message = (error as { message: string }).message;
  assert.equal(message, 'Unknown request type "\ufffdfly"');
  assert.doesNotThrow(() => encodeURIComponent(message));
});

Deno.test("JSON codec round-trips every event type", () => {
  for (const event of SAMPLE_EVENTS) {
    const line = encodeJsonEvent(event);
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    assert.deepEqual(decodeJsonEvent(line.trimEnd()), event);
  }
});

Deno.test("decodeJsonEvent skips greeting text and unknown events", () => {
  assert.equal(decodeJsonEvent("*** Welcome to tern."), null);
  assert.equal(decodeJsonEvent('{"type":"from-the-future"}'), null);
  assert.equal(decodeJsonEvent("{broken"), null);
});

Deno.test("history requests reject counts that are not whole numbers above 0", () => {
  for (
    const field of ['"limit":0', '"limit":-3', '"limit":1.5', '"before":"9"']
  ) {
    const result = decodeJsonRequest(`{"type":"history",${field}}`);
    assert.equal(result.type, "error", field);
  }
  assert.deepEqual(decodeJsonRequest('{"type":"history","limit":999}'), {
    type: "history",
    limit: 999,
  });
  assert.deepEqual(decodeTextRequest("/history 200"), {
    type: "history",
    limit: 200,
  });
  for (const count of ["201", "999", "99999999999999999999999"]) {
    const result = decodeTextRequest(`/history ${count}`);
    assert.equal(result?.type, "error", count);
    assert.match(
      (result as { message: string }).message,
      /N is how many messages, from 1 to 200$/,
      count,
    );
  }
  assert.equal(decodeTextRequest("/history sideways")?.type, "error");
});

Deno.test("who refuses an empty paging cursor rather than start from the top", () => {
  for (const after of ['""', '"  "', "5", "[]"]) {
    const result = decodeJsonRequest(
      `{"type":"who","after":${after},"ref":"w"}`,
    );
    assert.equal(result.type, "error", after);
    assert.equal((result as { code: string }).code, "bad_request", after);
    assert.equal((result as { ref?: string }).ref, "w", after);
  }
  assert.deepEqual(
    decodeJsonRequest('{"type":"who","after":""}'),
    {
      type: "error",
      code: "bad_request",
      message: 'Bad who: "after" must not be empty when present',
    },
  );
  assert.deepEqual(decodeJsonRequest('{"type":"who","after":"bob"}'), {
    type: "who",
    after: "bob",
  });
  // A room or any other non-nickname sorts before every nickname, so it
  // would silently be the first page again.
  for (const after of ["#lobby", "a b", "x".repeat(33), "a.b", "@bob"]) {
    const result = decodeJsonRequest(
      JSON.stringify({ type: "who", after, ref: "n" }),
    );
    assert.equal(result.type, "error", after);
    assert.equal((result as { code: string }).code, "bad_request", after);
    assert.equal((result as { ref?: string }).ref, "n", after);
    assert.match(
      (result as { message: string }).message,
      /^Bad who: "after" must be a nickname when present \(Nickname /,
      after,
    );
  }
  assert.deepEqual(decodeJsonRequest('{"type":"who","after":null}'), {
    type: "who",
  });
});
