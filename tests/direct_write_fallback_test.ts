/**
 * Where writes are not made at once (net/libc_socket.ts), every write is
 * Deno's, as before they could be: without `--allow-ffi`, said once in the
 * log, and with `--sync-writes 0`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServerProcess } from "./server_process.ts";
import { LineClient } from "./helpers.ts";

/** Two people in #lobby: one speaks, the other hears, in order. */
async function chatWorks(port: number): Promise<void> {
  await using alice = await LineClient.text(port, "alice");
  await using bob = await LineClient.text(port, "bob");
  await alice.expect("*** bob joined #lobby");
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
  await alice.sendBytes(new TextEncoder().encode(lines.join("\n") + "\n"));
  for (const line of lines) await bob.expect(`<alice> ${line}`);
}

const libcOff = (server: ServerProcess) =>
  server.stderr!.received.filter((line) => line.includes("libc_socket_off"));

Deno.test("without --allow-ffi the server says so once in its log and serves plain TCP as before", async () => {
  await using server = new ServerProcess(
    ["--port", "0", "--flood-rate", "0"],
    "lines",
    ["--allow-net", "--allow-read", "--allow-write", "--allow-env"],
  );
  const port = await server.port();
  await server.stderr!.expect(/libc_socket_off/);
  await chatWorks(port);
  const said = libcOff(server);
  assert.equal(said.length, 1, said.join("\n"));
  assert.match(said[0]!, /reason="--allow-ffi not granted"/);
});

Deno.test("--sync-writes 0 makes every write Deno's, quietly", async () => {
  await using server = new ServerProcess([
    "--port",
    "0",
    "--flood-rate",
    "0",
    "--sync-writes",
    "0",
  ]);
  const port = await server.port();
  // Logged once the library is opened, or not.
  await server.stderr!.expect(/ listen kind=plain/);
  await chatWorks(port);
  assert.deepEqual(libcOff(server), []);
});
