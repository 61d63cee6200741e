/**
 * HTTP connections in their request count against the same caps as chat
 * connections (per address, in total), and their request head is bounded in
 * time and size by flags: a peer cannot hold descriptors by opening HTTP
 * connections and saying nothing.
 */

import assert from "node:assert/strict";
import type { ServerOptions } from "../server.ts";
import { DEFAULT_LIMITS, type Limits } from "../server/limits.ts";
import {
  LineClient,
  startWebServer,
  type TestWebServer,
  within,
} from "./helpers.ts";
import { HttpWire } from "./http_wire.ts";

const decoder = new TextDecoder();

/** Reads until the server closes the connection; all it sent. */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  const chunk = new Uint8Array(4096);
  let text = "";
  for (;;) {
    let count: number | null;
    try {
      count = await conn.read(chunk);
    } catch {
      break;
    }
    if (count === null) break;
    text += decoder.decode(chunk.subarray(0, count));
  }
  return text;
}

/** Asks for the page; the status line of the answer. */
async function statusOfPage(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
      ),
    );
    const answer = await within(readToEnd(conn), "the answer to GET /");
    return answer.slice(0, answer.indexOf("\r\n"));
  } finally {
    conn.close();
  }
}

/**
 * A web server with the per-address caps at their defaults unless set: they
 * are what these tests are about.
 */
function admissionServer(
  limits: Partial<Limits>,
  options: ServerOptions = {},
): Promise<TestWebServer> {
  return startWebServer({
    maxPerAddress: DEFAULT_LIMITS.maxPerAddress,
    maxRoomsPerAddress: DEFAULT_LIMITS.maxRoomsPerAddress,
    ...limits,
  }, options);
}

Deno.test("web admission: silent HTTP connections from one address are capped by --max-per-address", async () => {
  await using web = await admissionServer({ maxPerAddress: 2 });
  const silent = [
    await Deno.connect({ hostname: "127.0.0.1", port: web.httpPort }),
    await Deno.connect({ hostname: "127.0.0.1", port: web.httpPort }),
  ];
  try {
    const third = await Deno.connect({
      hostname: "127.0.0.1",
      port: web.httpPort,
    });
    let answer: string;
    try {
      answer = await within(readToEnd(third), "the third HTTP connection");
    } finally {
      third.close();
    }
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.match(answer, /Too many connections from your address/);
    // The chat's own connections are counted apart: still served.
    await using alice = await LineClient.text(web.port, "alice");
    await alice.send("/who");
    await alice.expect(/alice/);
  } finally {
    for (const conn of silent) conn.close();
  }
  // Once the server has seen them go, the page is served again: each try
  // ends in a 503 or a 200 (bounded in count, each by WAIT_MS).
  let status = "";
  for (let attempt = 0; attempt < 50 && !status.includes(" 200 "); attempt++) {
    status = await statusOfPage(web.httpPort);
  }
  assert.match(status, / 200 /);
});

Deno.test("web admission: --http-head-timeout closes a silent connection, --http-max-head refuses a long head", async () => {
  await using web = await admissionServer({
    maxPerAddress: 0,
    httpHeadTimeoutMs: 300,
    maxHttpHeadBytes: 512,
  });
  const silent = await Deno.connect({
    hostname: "127.0.0.1",
    port: web.httpPort,
  });
  try {
    // Closed by the server, with nothing sent; the wait only guards.
    assert.equal(await within(readToEnd(silent), "the head deadline"), "");
  } finally {
    silent.close();
  }
  const long = await Deno.connect({
    hostname: "127.0.0.1",
    port: web.httpPort,
  });
  try {
    await long.write(
      new TextEncoder().encode(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ${
          "a".repeat(600)
        }\r\n\r\n`,
      ),
    );
    assert.match(await within(readToEnd(long), "the 431"), /^HTTP\/1\.1 431 /);
  } finally {
    long.close();
  }
});

Deno.test("web admission: a request typed into nc, with bare LF line ends, is answered at once", async () => {
  await using web = await admissionServer({ maxPerAddress: 0 });
  for (const [request, status] of [["GET /", 200], ["GET /nowhere", 404]]) {
    using wire = await HttpWire.open(web.httpPort);
    await wire.send(`${request} HTTP/1.1\nHost: 127.0.0.1\n\n`);
    // Well inside the 10 s head timeout that a missed head end would take.
    const answer = await wire.response(false, 3000);
    assert.equal(answer?.status, status);
  }
});

Deno.test("web admission: a TLS hello at the plain HTTP port is refused at once, not left to the head timeout", async () => {
  await using web = await admissionServer({ maxPerAddress: 0 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: web.httpPort,
  });
  try {
    // The start of a ClientHello: record type 22, version 3.1, then binary.
    await conn.write(
      new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]),
    );
    // Well inside the 10 s head timeout that waiting for a head would take.
    const answer = await within(readToEnd(conn), "the refusal", 3000);
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /plain HTTP, not HTTPS/);
  } finally {
    conn.close();
  }
});

/** Asks for the page; the whole answer, head and body. */
async function pageAnswer(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
      ),
    );
    return await within(readToEnd(conn), "the answer to GET /");
  } finally {
    conn.close();
  }
}

Deno.test("web admission: past --http-connect-rate a plain HTTP connection is answered 429 before its request", async () => {
  await using web = await admissionServer(
    { httpConnectBurst: 3, httpConnectRate: 0.25, connectBurst: 1 },
    { throttleLoopback: true },
  );
  for (let i = 0; i < 3; i++) {
    assert.match(await statusOfPage(web.httpPort), / 200 /, `load ${i}`);
  }
  // Before, the plain HTTP port had no rate at all: one address could
  // open connections as fast as the server accepted them.
  const refused = await pageAnswer(web.httpPort);
  assert.match(refused, /^HTTP\/1\.1 429 /);
  assert.match(refused, /\r\nretry-after: 4\r\n/i);
  assert.match(refused, /Too many new connections from your address/);
  // A bucket of its own: the chat's rate (a burst of one) is untouched.
  await using alice = await LineClient.text(web.port, "alice");
  await alice.send("/who");
  await alice.expect(/alice/);
});

Deno.test("web admission: a banned address is answered 503 at the plain HTTP port", async () => {
  await using web = await admissionServer({});
  assert.ok(web.server.hub.bans.add({
    address: "127.0.0.1",
    by: "op",
    reason: "spam",
  }));
  const answer = await pageAnswer(web.httpPort);
  assert.match(answer, /^HTTP\/1\.1 503 /);
  assert.match(answer, /You are banned: spam/);
});
