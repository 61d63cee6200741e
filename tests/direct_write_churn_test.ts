/**
 * Writes made at once (server/net/libc_socket.ts) go to a descriptor by its
 * number, and a closed connection's number is the next accepted one's. Here
 * connections come and go abruptly, each sent private messages tagged with
 * its own nickname and token, while a big room talks and the turn's budget
 * of writes made at once is one, so writes always wait for a later turn:
 * no line may reach anyone but its own connection, and none may be cut.
 *
 * A longer run of the same: `deno task bench-churn`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServerProcess } from "./server_process.ts";
import { runChurn } from "../bench/churn.ts";

Deno.test("connections that come and go abruptly never get each other's lines, with writes made at once", async () => {
  await using server = new ServerProcess([
    "--port",
    "0",
    "--big-room",
    "10",
    "--sync-writes",
    "1",
    "--flood-rate",
    "0",
    "--max-per-address",
    "0",
    "--history",
    "0",
    "--log-level",
    "warn",
  ]);
  const port = await server.port();
  const report = await runChurn({
    port,
    durationMs: 3_000,
    members: 20,
    churners: 100,
  });
  assert.deepEqual(report.problems, []);
  // The run did what it is for: many connections came and went, each was
  // sent private lines, and the room talked throughout.
  assert.ok(report.closed >= 100, `only ${report.closed} connections ended`);
  assert.ok(report.privatesReceived >= 100, JSON.stringify(report));
  assert.ok(report.roomLinesReceived >= 1_000, JSON.stringify(report));
});
