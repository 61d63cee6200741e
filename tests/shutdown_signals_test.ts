/**
 * Stopping the server by signal: a terminal's Ctrl-C reaches every process
 * in its group, and a task runner (deno task, npm exec) may forward it
 * again, so the server gets the same signal more than once. It must still
 * say goodbye to everyone and exit 0, once.
 */

import assert from "node:assert/strict";
import { LineClient } from "./helpers.ts";
import { startServerProcess } from "./programs.ts";

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`shutdown: a second ${signal} during the goodbye does not cut it short`, async () => {
    await using server = await startServerProcess();
    await using nc = await LineClient.text(server.port, "alice");
    server.child.kill(signal);
    // The server is saying goodbye: it waits for alice to close, or for
    // its close grace; a repeated signal now must not kill it.
    await nc.expect("*** Disconnected (shutdown): Server shutting down");
    server.child.kill(signal);
    server.child.kill(signal);
    await nc.close();
    assert.equal(await server.exit(), 0);
    assert.ok(
      server.stderr.received.some((line) => line.includes("INFO closed")),
      server.stderr.received.join("\n"),
    );
  });
}
