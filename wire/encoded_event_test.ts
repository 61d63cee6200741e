import assert from "node:assert/strict";
import { EncodedEvent } from "./encoded_event.ts";
import type { ServerEvent } from "./events.ts";

Deno.test("EncodedEvent encodes once per codec however often it is asked", () => {
  const event: ServerEvent = { type: "notice", text: "hi" };
  const encoded = new EncodedEvent(event);
  const json = encoded.bytes("json");
  assert.equal(encoded.bytes("json"), json);
  assert.equal(encoded.bytes("text"), encoded.bytes("text"));
  assert.equal(
    new TextDecoder().decode(json),
    '{"type":"notice","text":"hi"}\n',
  );
  assert.equal(new TextDecoder().decode(encoded.bytes("text")), "*** hi\n");
});
