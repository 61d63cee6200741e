/**
 * Faults around the server process: whoever reads its stderr going away or
 * stopping reading, and the signals an operator sends (SIGHUP, repeated
 * SIGINT/SIGTERM). None may stop or stall the server.
 */

import assert from "node:assert/strict";
import { LineClient, LineStream } from "./helpers.ts";
import { ServerProcess } from "./server_process.ts";

Deno.test("a closed log pipe (its reader gone, as with | head -1) neither stalls nor stops the server", async () => {
  await using server = new ServerProcess(
    ["--port", "0", "--login-timeout", "0.3"],
    "raw",
  );
  const port = await server.port();
  await server.child.stderr.cancel();
  // A connection that never logs in is closed at its login timeout, which
  // is logged: the first writes to the closed pipe.
  await using silent = await LineClient.connect(port);
  await silent.closed();
  // The server still takes and serves new connections.
  await using alice = await LineClient.text(port, "alice");
  await using bob = await LineClient.text(port, "bob");
  await alice.send("still here");
  await bob.expect("<alice> still here");
  server.kill("SIGTERM");
  assert.equal(await server.exit(), 0);
});

Deno.test("a log pipe nobody reads never blocks the server", async () => {
  await using server = new ServerProcess(
    ["--port", "0", "--max-per-address", "0"],
    "raw",
  );
  const port = await server.port();
  // Each connection logs two lines (connect, disconnect), about 200 bytes:
  // 800 of them are more than a pipe holds (64 KiB on Linux).
  for (let i = 0; i < 800; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
  }
  // The server answers at once, although nothing reads its log.
  await using alice = await LineClient.text(port, "alice");
  await alice.linesUntilPong();
  // Once the log is read again, the lines it held arrive.
  const stderr = new LineStream(server.child.stderr);
  await stderr.expect(/INFO connect session=801 /);
  server.kill("SIGTERM");
  assert.equal(await server.exit(), 0);
  await stderr.done;
});

Deno.test("SIGHUP rereads the --motd file, logs it and the server lives on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern-motd-" });
  try {
    const motd = `${dir}/motd.txt`;
    await Deno.writeTextFile(motd, "first message of the day\n");
    await using server = new ServerProcess(["--port", "0", "--motd", motd]);
    const port = await server.port();
    await using alice = await LineClient.text(port, "alice");
    assert.ok(
      alice.received.includes("***   first message of the day"),
      alice.received.join("\n"),
    );
    await Deno.writeTextFile(motd, "second message of the day\n");
    server.kill("SIGHUP");
    await server.stderr!.expect(
      new RegExp(`INFO motd_reloaded file=${motd} lines=1$`),
    );
    await using bob = await LineClient.text(port, "bob");
    assert.ok(
      bob.received.includes("***   second message of the day"),
      bob.received.join("\n"),
    );
    // A file that went away: logged, the message kept, the server alive.
    await Deno.remove(motd);
    server.kill("SIGHUP");
    await server.stderr!.expect(/ERROR motd_reload_failed file=/);
    await alice.send("/motd");
    await alice.expect("***   second message of the day");
    server.kill("SIGTERM");
    assert.equal(await server.exit(), 0);
    await alice.expect(/^\*\*\* Disconnected.*: Server shutting down$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("repeated SIGTERM and SIGINT during shutdown change nothing: one goodbye, exit 0", async () => {
  // An account hash at a high cost keeps the shutdown going for a while
  // (close waits for the connection's handler), so later signals arrive
  // while it is still under way.
  await using server = new ServerProcess([
    "--port",
    "0",
    "--password-iterations",
    "3000000",
  ]);
  const port = await server.port();
  await using alice = await LineClient.text(port, "alice");
  await using bob = await LineClient.text(port, "bob");
  await using carol = await LineClient.text(port, "carol");
  const clients = [alice, bob, carol];
  // One address may have two hashes queued: the third /register read is
  // refused at once, which proves the other two are being hashed.
  const refused = () =>
    clients.some((client) =>
      client.received.some((line) => /passwords being checked/.test(line))
    );
  for (const client of clients) {
    await client.send("/register a long enough password");
  }
  // Each wait ends at the refusal or at its client's next line after it.
  const waits = clients.map((client) =>
    client.waitFor(refused, "a third /register refused while two hash")
  );
  try {
    await Promise.race(waits);
    server.kill("SIGTERM");
    await alice.expect(/^\*\*\* Disconnected.*: Server shutting down$/);
    server.kill("SIGTERM");
    server.kill("SIGINT");
  } finally {
    await Promise.allSettled(waits);
  }
  assert.equal(await server.exit(), 0);
  assert.ok(
    server.stderr!.received.some((line) =>
      / INFO shutdown_in_progress signal=SIG(TERM|INT)$/.test(line)
    ),
    server.stderr!.received.join("\n"),
  );
  assert.equal(
    server.stderr!.received.filter((line) => / INFO closed$/.test(line)).length,
    1,
  );
});
