import assert from "node:assert/strict";
import { notUndone } from "./account_lookup.ts";
import type { Call } from "./call.ts";
import type { Hints } from "../../protocol.ts";

/** A call of `type` from ann, identified, whose hints are `hints`. */
function callOf(type: string, hints: Hints): Call {
  return {
    request: { type },
    session: {
      nick: "ann",
      account: { id: 1, nick: "ann" },
      hints,
      words: (text: string, json: string) => hints === "requests" ? json : text,
    },
  } as unknown as Call;
}

Deno.test("a write that may have happened after all is named by what it did, not by its request type", () => {
  for (const hints of ["commands", "requests"] as const) {
    const drop = notUndone(callOf("drop", hints));
    assert.match(drop, /^The release of ann may have happened after all: /);
    const other = notUndone(callOf("nick", hints));
    assert.match(other, /^What you asked may have happened after all: /);
  }
  assert.match(
    notUndone(callOf("register", "commands")),
    /; \/identify ann PASSWORD tells whether it was$/,
  );
  assert.match(
    notUndone(callOf("register", "requests")),
    /; an "identify" request with its password tells whether it was$/,
  );
});
