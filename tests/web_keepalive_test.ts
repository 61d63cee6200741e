/**
 * Persistent HTTP connections on the web listener, over real sockets, one
 * rule of RFC 9112 section 9 (and of body framing, section 6.3) per test:
 * HTTP/1.1 stays open unless told to close, HTTP/1.0 closes unless it asks,
 * the idle timeout and the request cap end a connection, pipelined requests
 * are answered in order, a body is skipped so the next request is read from
 * its start (or the connection closes when it cannot be), and a request
 * that does not arrive in time is answered 408.
 */

import assert from "node:assert/strict";
import { connectionsDropTo, startWebServer, within } from "./helpers.ts";
import { HttpWire, request } from "./http_wire.ts";

/** Reads the next response, failing when the server closed instead. */
async function next(wire: HttpWire, headOnly = false) {
  const answer = await wire.response(headOnly);
  assert.ok(answer !== null, "a response, not the end of the connection");
  return answer;
}

Deno.test("keep-alive: an HTTP/1.1 connection carries request after request", async () => {
  await using web = await startWebServer();
  using wire = await HttpWire.open(web.httpPort);
  for (const [path, type] of [["/", /html/], ["/app.js", /javascript/]]) {
    await wire.send(request(path as string));
    const answer = await next(wire);
    assert.equal(answer.status, 200, path as string);
    assert.match(answer.headers.get("content-type")!, type as RegExp);
    assert.equal(answer.headers.get("connection"), "keep-alive");
    assert.equal(answer.headers.get("keep-alive"), "timeout=5");
    assert.ok(answer.headers.get("date"), "a Date header");
  }
  // Refusals whose request was read whole keep the connection too.
  await wire.send(request("/nowhere"));
  assert.equal((await next(wire)).status, 404);
  await wire.send(request("/", [], { method: "DELETE" }));
  assert.equal((await next(wire)).status, 405);
  await wire.send(request("/style.css"));
  assert.equal((await next(wire)).status, 200);
});

Deno.test("keep-alive: Connection: close is honoured, and said back", async () => {
  await using web = await startWebServer();
  using wire = await HttpWire.open(web.httpPort);
  await wire.send(request("/", ["Connection: close"]));
  const answer = await next(wire);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("connection"), "close");
  assert.equal(answer.headers.get("keep-alive"), null);
  assert.equal(await wire.closed(), "", "closed, with nothing more");
});

Deno.test("keep-alive: HTTP/1.0 closes unless it asks for keep-alive", async () => {
  await using web = await startWebServer();
  {
    using wire = await HttpWire.open(web.httpPort);
    await wire.send(request("/", [], { version: "HTTP/1.0" }));
    const answer = await next(wire);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get("connection"), "close");
    assert.equal(await wire.closed(), "");
  }
  {
    using wire = await HttpWire.open(web.httpPort);
    const asking = request("/", ["Connection: Keep-Alive"], {
      version: "HTTP/1.0",
    });
    await wire.send(asking);
    const first = await next(wire);
    assert.equal(first.headers.get("connection"), "keep-alive");
    await wire.send(asking.replace("GET / ", "GET /app.js "));
    const second = await next(wire);
    assert.equal(second.status, 200);
    assert.match(second.headers.get("content-type")!, /javascript/);
    // Without asking again, the connection ends after the answer.
    await wire.send(request("/", [], { version: "HTTP/1.0" }));
    assert.equal((await next(wire)).headers.get("connection"), "close");
    assert.equal(await wire.closed(), "");
  }
});

Deno.test("keep-alive: --http-idle-timeout closes a quiet connection without a word; 0 turns keep-alive off", async () => {
  {
    await using web = await startWebServer({ httpIdleTimeoutMs: 300 });
    using wire = await HttpWire.open(web.httpPort);
    await wire.send(request("/"));
    assert.equal((await next(wire)).headers.get("keep-alive"), "timeout=0");
    const answered = performance.now();
    assert.equal(await wire.closed(), "", "no 408 to an idle connection");
    assert.ok(performance.now() - answered >= 250, "not before its time");
    await connectionsDropTo(web.server, 0);
  }
  {
    await using web = await startWebServer({ httpIdleTimeoutMs: 0 });
    using wire = await HttpWire.open(web.httpPort);
    await wire.send(request("/"));
    assert.equal((await next(wire)).headers.get("connection"), "close");
    assert.equal(await wire.closed(), "");
  }
});

Deno.test("keep-alive: --http-max-requests ends a connection, its last answer saying so", async () => {
  await using web = await startWebServer({ httpMaxRequests: 3 });
  using wire = await HttpWire.open(web.httpPort);
  for (let i = 1; i <= 3; i++) {
    await wire.send(request("/"));
    const answer = await next(wire);
    assert.equal(answer.status, 200);
    assert.equal(
      answer.headers.get("connection"),
      i < 3 ? "keep-alive" : "close",
    );
  }
  // A fourth request sent anyway is not answered.
  await wire.send(request("/")).catch(() => {});
  assert.equal(await wire.closed(), "");
});

Deno.test("keep-alive: pipelined requests are answered one by one, in order", async () => {
  await using web = await startWebServer();
  using wire = await HttpWire.open(web.httpPort);
  // One write, with an empty line before the second request line, as RFC
  // 9112 section 2.2 asks a server to allow; the last asks to close.
  await wire.send(
    request("/app.js") + "\r\n" + request("/nowhere", [], { method: "HEAD" }) +
      request("/") + request("/style.css", ["Connection: close"]),
  );
  const statuses: Array<[number, string | null]> = [];
  for (const headOnly of [false, true, false, false]) {
    const answer = await next(wire, headOnly);
    statuses.push([answer.status, answer.headers.get("content-type")]);
    if (headOnly) assert.equal(answer.body, "", "no body to a HEAD");
  }
  assert.deepEqual(statuses.map(([status]) => status), [200, 404, 200, 200]);
  assert.match(statuses[0]![1]!, /javascript/);
  assert.match(statuses[2]![1]!, /html/);
  assert.match(statuses[3]![1]!, /css/);
  assert.equal(await wire.closed(), "", "closed after the last, as asked");
});

Deno.test("keep-alive: a bad request in a pipeline is refused with 400 and nothing after it is answered", async () => {
  await using web = await startWebServer();
  using wire = await HttpWire.open(web.httpPort);
  await wire.send(request("/") + "NOT-A-REQUEST\r\n\r\n" + request("/"));
  assert.equal((await next(wire)).status, 200);
  const refusal = await next(wire);
  assert.equal(refusal.status, 400);
  assert.equal(refusal.headers.get("connection"), "close");
  assert.equal(await wire.closed(), "");
});

Deno.test("keep-alive: a short body is skipped, so the next request on the connection is read from its start", async () => {
  await using web = await startWebServer();
  using wire = await HttpWire.open(web.httpPort);
  // A body that looks like a request: read as the body, never as a request.
  const decoy = request("/nowhere");
  await wire.send(
    request("/", [`Content-Length: ${decoy.length}`], {
      method: "POST",
      body: decoy,
    }) + request("/app.js"),
  );
  const refused = await next(wire);
  assert.equal(refused.status, 405);
  assert.equal(refused.headers.get("connection"), "keep-alive");
  const script = await next(wire);
  assert.equal(script.status, 200);
  assert.match(script.headers.get("content-type")!, /javascript/);
  // A GET with a body is refused, the body skipped as well, even when it
  // comes in a later write than its head.
  await wire.send(request("/", ["Content-Length: 10"]) + "01234");
  await wire.send("56789" + request("/style.css"));
  assert.equal((await next(wire)).status, 413);
  const sheet = await next(wire);
  assert.equal(sheet.status, 200);
  assert.match(sheet.headers.get("content-type")!, /css/);
});

Deno.test("keep-alive: a body that cannot be skipped, or framing that cannot be trusted, closes the connection after the answer", async () => {
  await using web = await startWebServer();
  const cases: Array<[string, string, number]> = [
    [
      "a body longer than 64 KiB",
      request("/", ["Content-Length: 100000"], { method: "POST" }),
      405,
    ],
    [
      "a chunked body",
      request("/", ["Transfer-Encoding: chunked"], {
        method: "POST",
        body: "5\r\nhello\r\n0\r\n\r\n",
      }),
      405,
    ],
    [
      "a body the client waits to send",
      request("/", ["Content-Length: 5", "Expect: 100-continue"], {
        method: "POST",
      }),
      405,
    ],
    [
      "Content-Length and Transfer-Encoding together",
      request("/", ["Content-Length: 5", "Transfer-Encoding: chunked"], {
        method: "POST",
        body: "0\r\n\r\n",
      }),
      400,
    ],
    [
      "two different lengths",
      request("/", ["Content-Length: 5", "Content-Length: 6"], {
        method: "POST",
        body: "hello!",
      }),
      400,
    ],
    [
      "a length that is no number",
      request("/", ["Content-Length: 5x"], { method: "POST" }),
      400,
    ],
    [
      "a transfer coding that does not end in chunked",
      request("/", ["Transfer-Encoding: gzip"], { method: "POST" }),
      400,
    ],
    [
      "Transfer-Encoding in HTTP/1.0",
      request("/", ["Transfer-Encoding: chunked"], { version: "HTTP/1.0" }),
      400,
    ],
  ];
  for (const [name, text, status] of cases) {
    using wire = await HttpWire.open(web.httpPort);
    // A request after it that must not be answered: nobody knows where it
    // would start.
    await wire.send(text + request("/"));
    const answer = await next(wire);
    assert.equal(answer.status, status, name);
    assert.equal(answer.headers.get("connection"), "close", name);
    assert.doesNotMatch(await wire.closed(), /^HTTP/, name);
  }
});

Deno.test("keep-alive: a request that does not arrive whole within --http-head-timeout is answered 408, head or body, first request or later", async () => {
  await using web = await startWebServer({ httpHeadTimeoutMs: 300 });
  {
    using wire = await HttpWire.open(web.httpPort);
    await wire.send("GET / HTTP/1.1\r\nHost: 12");
    const answer = await next(wire);
    assert.equal(answer.status, 408);
    assert.equal(answer.headers.get("connection"), "close");
    assert.equal(await wire.closed(), "");
  }
  {
    using wire = await HttpWire.open(web.httpPort);
    await wire.send(request("/"));
    assert.equal((await next(wire)).status, 200);
    await wire.send(request("/", ["Content-Length: 10"]) + "012");
    assert.equal((await next(wire)).status, 408);
    assert.equal(await wire.closed(), "");
  }
  {
    // A byte at a time does not buy more time: the deadline counts from the
    // request's first byte. The trickle stops at the close; bounded either
    // way (100 bytes at 20 ms is twice the deadline).
    using wire = await HttpWire.open(web.httpPort);
    const closed = wire.closed();
    const head = request("/", ["X-Slow: " + "s".repeat(100)]);
    let sent = 0;
    let ended = false;
    closed.finally(() => ended = true).catch(() => {});
    for (; sent < 100 && !ended; sent++) {
      await wire.send(head[sent]!).catch(() => ended = true);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.match(await closed, /^HTTP\/1\.1 408 /);
    assert.ok(sent < 100, `the trickle was cut off (after ${sent} bytes)`);
  }
  await connectionsDropTo(web.server, 0);
});

Deno.test("keep-alive: a connection that served pages can then be upgraded to the chat", async () => {
  await using web = await startWebServer();
  using wire = await HttpWire.open(web.httpPort);
  await wire.send(request("/"));
  assert.equal((await next(wire)).status, 200);
  await wire.send(request("/ws", [
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
  ]));
  const upgraded = await next(wire);
  assert.equal(upgraded.status, 101);
  // The chat greets it over WebSocket: an unmasked text frame from the
  // server, with the welcome notice in it.
  const frame = await wire.bytes(2);
  assert.equal(frame[0], 0x81);
});

Deno.test("keep-alive: shutdown closes idle kept-alive connections at once", async () => {
  const web = await startWebServer();
  using wire = await HttpWire.open(web.httpPort);
  await wire.send(request("/"));
  assert.equal((await next(wire)).status, 200);
  await web.server.close();
  assert.equal(await wire.closed(), "");
});

/** Everything the server sends on `conn` until it closes, as text. */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  return new TextDecoder().decode(
    Uint8Array.from(chunks.flatMap((chunk) => [...chunk])),
  );
}

Deno.test("a nickname typed with nc at the web port is told at once where the chat is", async () => {
  await using web = await startWebServer();
  // Someone who mixed up the ports types a nickname and Enter: waiting out
  // the head deadline for an HTTP request that never comes, then a 408,
  // would leave them with ten seconds of nothing and a riddle.
  for (
    const line of ["alice\n", "alice\r\n", '{"type":"hello","nick":"bot"}\n']
  ) {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: web.httpPort,
    });
    try {
      await conn.write(new TextEncoder().encode(line));
      const text = await within(readToEnd(conn), "the answer", 3000);
      assert.match(text, /^HTTP\/1\.1 400 /, line);
      assert.match(text, new RegExp(`port ${web.port}\\b`), line);
      assert.match(text, new RegExp(`http://127\\.0\\.0\\.1:${web.httpPort}/`));
    } finally {
      conn.close();
    }
  }
});
