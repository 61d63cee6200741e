import assert from "node:assert/strict";
import { isWhoMore, lastWhoPage, whoMoreRequest } from "./who_more.ts";

Deno.test("isWhoMore: /who more and /names more, nothing else", () => {
  for (const line of ["/who more", "/WHO More", "/names more", "/who  more "]) {
    assert.equal(isWhoMore(line), true, line);
  }
  for (
    const line of [
      "/who",
      "/who #more",
      "/who more more",
      "/who after more",
      "/msg more",
      "who more",
      " /who more",
    ]
  ) {
    assert.equal(isWhoMore(line), false, line);
  }
});

Deno.test("whoMoreRequest goes on after the last page shown, or says why not", () => {
  const page = lastWhoPage({
    type: "who",
    room: "#big",
    members: [{ nick: "ann" }, { nick: "cy" }],
    count: 300,
    next: "cy",
  });
  assert.deepEqual(whoMoreRequest(page), {
    type: "who",
    room: "#big",
    after: "cy",
  });
  const last = lastWhoPage({
    type: "who",
    room: "#big",
    members: [{ nick: "zed" }],
    count: 300,
  });
  const done = whoMoreRequest(last);
  assert.equal(done.type, "error");
  assert.match(
    (done as { message: string }).message,
    /last page of #big; \/who #big starts from the top/,
  );
  const none = whoMoreRequest(null);
  assert.equal(none.type, "error");
  assert.match((none as { message: string }).message, /\/who shows/);
});
