import assert from "node:assert/strict";
import { type SendFailure, Session } from "./session.ts";
import { DEFAULT_LIMITS } from "./limits.ts";

Deno.test("a session whose write failed is not called slow for what is sent to it before it is gone", async () => {
  const failures: SendFailure[] = [];
  const session = new Session({
    // A peer that reset its connection: the write made at once fails.
    socket: {
      write: () => Promise.reject(new Deno.errors.ConnectionReset("reset")),
      tryWrite: () => {
        throw new Deno.errors.ConnectionReset("send: errno 104");
      },
      close: () => {},
    },
    address: "127.0.0.1",
    limits: DEFAULT_LIMITS,
    // The hub ends the session a little later (a microtask), so lines may
    // still be sent to it meanwhile.
    onSendFailure: (_, why) => failures.push(why),
  });
  session.send({ type: "notice", text: "one" });
  await session.outbound.idle();
  assert.deepEqual(failures, ["lost"]);
  session.send({ type: "notice", text: "two" });
  assert.deepEqual(failures, ["lost"], "nothing was waiting: it is not slow");
});
