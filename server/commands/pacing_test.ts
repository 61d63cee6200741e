import assert from "node:assert/strict";
import { Hub } from "../hub.ts";
import { Session } from "../session.ts";
import { paceInput } from "./pacing.ts";
import { within } from "../../tests/helpers.ts";

Deno.test("a connection closed while flood control holds its input is let go at once, its wait's timer with it", async () => {
  const hub = new Hub({
    limits: {
      floodRate: 1,
      floodBurst: 1,
      floodBurstBytes: 100,
      floodByteRate: 10,
      floodDisconnectMs: 3_600_000,
    },
  });
  const session = new Session({
    socket: {
      write: (bytes) => Promise.resolve(bytes.length),
      close: () => {},
    },
    address: "192.0.2.1",
    limits: hub.limits,
    onSendFailure: hub.sendFailed,
  });
  hub.sessions.add(session);
  session.state = "active";
  try {
    let ran = 0;
    const run = () => void ran++;
    assert.equal(
      paceInput(hub, session, session.flood!, { lines: 1, bytes: 100 }, run),
      undefined,
    );
    // The next line must wait about 10 s for the bytes to refill.
    const waiting = paceInput(hub, session, session.flood!, {
      lines: 1,
      bytes: 100,
    }, run);
    assert.ok(waiting !== undefined, "held back");
    hub.disconnect(session, "lost");
    // Before, the wait ran its course: a closed connection's task (and a
    // timer) lived on for as long as its input would have waited. The test
    // sanitizer fails this test if the timer is left.
    await within(waiting, "the wait to end with the connection", 2000);
    assert.equal(ran, 1, "the held line is not run for a closed connection");
  } finally {
    await session.finished;
    hub.history.close();
  }
});
