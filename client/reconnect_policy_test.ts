import assert from "node:assert/strict";
import {
  Backoff,
  looksLikeHttp,
  looksLikeTls,
  nextStep,
  tlsFailureMessage,
} from "./reconnect_policy.ts";

Deno.test("nextStep reconnects after a network loss or a try-again goodbye", () => {
  assert.deepEqual(nextStep({ bye: null, spokeTls: false }), {
    action: "reconnect",
  });
  for (const code of ["shutdown", "timeout", "slow", "full"] as const) {
    assert.deepEqual(
      nextStep({ bye: { code, reason: "r" }, spokeTls: false }),
      { action: "reconnect" },
      code,
    );
  }
});

Deno.test("nextStep stops, saying why, after kicked, banned or taken over", () => {
  const step = nextStep({
    bye: { code: "taken_over", reason: "alice logged in from ::1" },
    spokeTls: false,
  });
  assert.equal(step.action, "stop");
  assert.ok(step.action === "stop");
  assert.equal(step.status, 1);
  assert.match(step.message, /^alice logged in from ::1\. Not reconnecting: /);
  for (const code of ["kicked", "banned", "flood", "bad_password"] as const) {
    assert.equal(
      nextStep({ bye: { code, reason: "r" }, spokeTls: false }).action,
      "stop",
      code,
    );
  }
  assert.deepEqual(nextStep({ bye: null, spokeTls: true }), {
    action: "stop",
    status: 1,
    message: "This port speaks TLS: add --tls",
  });
});

Deno.test("looksLikeTls knows a TLS alert and handshake from a greeting", () => {
  assert.ok(looksLikeTls(new Uint8Array([0x15, 0x03, 0x03, 0, 2, 2, 50])));
  assert.ok(looksLikeTls(new Uint8Array([0x16, 0x03, 0x01])));
  assert.ok(!looksLikeTls(new TextEncoder().encode("*** Welcome")));
  assert.ok(!looksLikeTls(new Uint8Array([0x15])));
});

Deno.test("Backoff grows across failed logins and resets only after a lasting session", () => {
  const backoff = new Backoff({
    minMs: 1000,
    maxMs: 8000,
    stableMs: 30_000,
    random: () => 0.5,
  });
  // Connected and logged in, but thrown out at once: still a failure.
  assert.deepEqual(
    [0, 500, 2000, 0, 100].map((ms) => backoff.next(ms)),
    [1000, 2000, 4000, 8000, 8000],
  );
  assert.equal(backoff.next(60_000), 1000, "a session that lasted resets it");
  assert.equal(backoff.next(0), 2000);
});

Deno.test("tlsFailureMessage says what to do about a certificate the client does not trust", () => {
  assert.equal(
    tlsFailureMessage("invalid peer certificate: UnknownIssuer"),
    "The server's certificate is not signed by a CA this client trusts " +
      "(invalid peer certificate: UnknownIssuer): give that CA's certificate " +
      "with --ca FILE",
  );
  assert.equal(
    tlsFailureMessage(
      'invalid peer certificate: certificate not valid for name "127.0.0.1"; certificate is only valid for DnsName("chat.example")',
    ),
    "The server's certificate is for another name " +
      '(invalid peer certificate: certificate not valid for name "127.0.0.1"; ' +
      'certificate is only valid for DnsName("chat.example")): ' +
      "connect with --host set to a name it is for",
  );
  assert.match(
    tlsFailureMessage("invalid peer certificate: Expired"),
    /^The server's certificate has expired .*: its operator must renew it$/,
  );
});

Deno.test("nextStep stops at the web client's HTTP port, naming the chat's", () => {
  assert.ok(looksLikeHttp(new TextEncoder().encode("HTTP/1.1 400 Bad")));
  assert.ok(!looksLikeHttp(new TextEncoder().encode("*** Welcome to tern")));
  assert.deepEqual(nextStep({ bye: null, spokeTls: false, spokeHttp: true }), {
    action: "stop",
    status: 1,
    message:
      "This port serves the web client (HTTP), not the chat: give the chat's port (7000 unless the server was started with --port)",
  });
});
