import assert from "node:assert/strict";
import {
  type Asset,
  hostAllowed,
  listensOnLoopback,
  MAX_REQUEST_HEADERS,
  MAX_URL_BYTES,
  normalizeOrigin,
  originAllowed,
  type RequestFacts,
  routeRequest,
  securityHeaders,
} from "./http_rules.ts";

const page: Asset = {
  body: new TextEncoder().encode("<!doctype html>"),
  contentType: "text/html; charset=utf-8",
};
const assets = new Map([["/", page]]);

function request(
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
  base = "http://127.0.0.1:7080",
): RequestFacts {
  return {
    method,
    url: `${base}${path}`,
    headers: new Headers({ host: new URL(base).host, ...headers }),
  };
}

const upgrade = { upgrade: "websocket", connection: "Upgrade" };

Deno.test("routeRequest serves known paths only, by exact match", () => {
  assert.deepEqual(routeRequest(request("/"), assets, []), {
    kind: "asset",
    asset: page,
    head: false,
  });
  assert.equal(
    (routeRequest(request("/", {}, "HEAD"), assets, []) as { head: boolean })
      .head,
    true,
  );
  for (
    const path of [
      "/index.html",
      "/../etc/passwd",
      "/%2e%2e/server.ts",
      "//",
      "/ws/",
      "/app.js",
    ]
  ) {
    const route = routeRequest(request(path), assets, []);
    assert.equal(route.kind, "refuse", path);
    assert.equal((route as { status: number }).status, 404, path);
  }
});

Deno.test("routeRequest refuses other methods, bodies, long URLs, many headers", () => {
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "TRACE"]) {
    assert.deepEqual(routeRequest(request("/", {}, method), assets, []), {
      kind: "refuse",
      status: 405,
      text: "Method not allowed",
      headers: { allow: "GET, HEAD" },
    });
  }
  const withBody = routeRequest(
    request("/", { "content-length": "10" }),
    assets,
    [],
  );
  assert.equal((withBody as { status: number }).status, 413);
  const long = routeRequest(
    request(`/?${"a".repeat(MAX_URL_BYTES)}`),
    assets,
    [],
  );
  assert.equal((long as { status: number }).status, 414);
  const many: Record<string, string> = {};
  for (let i = 0; i < MAX_REQUEST_HEADERS; i++) many[`x-h${i}`] = "1";
  const crowded = routeRequest(request("/", many), assets, []);
  assert.equal((crowded as { status: number }).status, 431);
});

Deno.test("the WebSocket endpoint needs an upgrade from an allowed origin", () => {
  assert.deepEqual(routeRequest(request("/ws"), assets, []), {
    kind: "refuse",
    status: 426,
    text: "This endpoint speaks WebSocket only",
    headers: { upgrade: "websocket", connection: "upgrade" },
  });
  assert.deepEqual(
    routeRequest(
      request("/ws", { upgrade: "foo, WebSocket", connection: "Upgrade" }),
      assets,
      [],
    ),
    { kind: "upgrade" },
    "Upgrade is a list of protocols",
  );
  assert.deepEqual(
    routeRequest(
      request("/ws", { ...upgrade, origin: "http://127.0.0.1:7080" }),
      assets,
      [],
    ),
    { kind: "upgrade" },
  );
  const foreign = routeRequest(
    request("/ws", { ...upgrade, origin: "http://evil.example" }),
    assets,
    [],
  );
  assert.deepEqual(foreign, {
    kind: "refuse",
    status: 403,
    text: "Origin not allowed",
  });
});

Deno.test("originAllowed compares scheme, host and port together", () => {
  const at = (origin: string | null, allowed: string[] = []) =>
    originAllowed(
      request("/ws", origin === null ? {} : { origin }),
      allowed,
    );
  assert.equal(at(null), true, "no Origin: not a browser page");
  assert.equal(at("http://127.0.0.1:7080"), true);
  assert.equal(at("HTTP://127.0.0.1:7080"), true);
  assert.equal(at("https://127.0.0.1:7080"), false, "other scheme");
  assert.equal(at("http://127.0.0.1:7081"), false, "other port");
  assert.equal(at("http://127.0.0.1"), false, "default port is another port");
  assert.equal(at("http://127.0.0.1.evil.example:7080"), false);
  assert.equal(at("null"), false, "opaque origin");
  assert.equal(at("http://chat.example"), false);
  assert.equal(at("http://chat.example", ["http://chat.example:80"]), true);
  assert.equal(at("http://chat.example:8080", ["http://chat.example"]), false);
  assert.equal(at("https://chat.example", ["http://chat.example"]), false);
});

Deno.test("normalizeOrigin keeps only http(s) origins", () => {
  assert.equal(
    normalizeOrigin("https://A.example:443/path"),
    "https://a.example",
  );
  assert.equal(normalizeOrigin("ftp://a.example"), null);
  assert.equal(normalizeOrigin("not a url"), null);
});

Deno.test("securityHeaders forbid inline script, framing, sniffing, referrers", () => {
  const headers = securityHeaders(false);
  const csp = headers["content-security-policy"]!;
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.equal(headers["x-content-type-options"], "nosniff");
  assert.equal(headers["x-frame-options"], "DENY");
  assert.equal(headers["referrer-policy"], "no-referrer");
  assert.equal(headers["strict-transport-security"], undefined);
  assert.ok(securityHeaders(true)["strict-transport-security"]);
});

Deno.test("the web flags: port, off, HTTPS only with a certificate, origins checked", async () => {
  const { parseServerArgs } = await import("../options.ts");
  const base = ["--db", ":memory:"];
  assert.deepEqual(parseServerArgs(base).web, {
    port: 7080,
    httpsPort: 7444,
    allowedOrigins: [],
  });
  assert.equal(parseServerArgs([...base, "--no-http"]).web?.port, null);
  assert.equal(parseServerArgs([...base, "--no-https"]).web?.httpsPort, null);
  assert.throws(
    () => parseServerArgs([...base, "--no-https", "--https-port", "8443"]),
    /--https-port and --no-https contradict/,
  );
  assert.equal(parseServerArgs([...base, "--http-port", "0"]).web?.port, 0);
  assert.deepEqual(
    parseServerArgs([
      ...base,
      "--allowed-origin",
      "https://a.example",
      "--allowed-origin",
      "http://b.example:8080",
    ]).web?.allowedOrigins,
    ["https://a.example", "http://b.example:8080"],
  );
  assert.throws(
    () => parseServerArgs([...base, "--allowed-origin", "a.example"]),
    /--allowed-origin must be/,
  );
  assert.throws(
    () => parseServerArgs([...base, "--https-port", "8443"]),
    /--https-port needs --tls-cert/,
  );
  assert.throws(
    () => parseServerArgs([...base, "--http-port", "70000"]),
    /--http-port must be/,
  );
});

Deno.test("on loopback only local names, IP addresses and allowed origins' hosts are served", () => {
  const rebound = request("/ws", {
    ...upgrade,
    host: "attacker.example:7080",
    origin: "http://attacker.example:7080",
  });
  assert.deepEqual(routeRequest(rebound, assets, [], false), {
    kind: "upgrade",
  });
  const refused = routeRequest(rebound, assets, [], true);
  assert.equal(refused.kind === "refuse" && refused.status, 403);
  for (
    const host of [
      "127.0.0.1",
      "127.0.0.1:7080",
      "10.1.2.3:7080",
      "[::1]:7080",
      "localhost",
      "LOCALHOST:7080",
      "a.b.localhost:7080",
      "chat.example",
      null,
    ]
  ) {
    assert.equal(hostAllowed(host, ["https://chat.example"]), true, host!);
  }
  for (
    const host of [
      "attacker.example",
      "127.0.0.1.attacker.example",
      "localhost.attacker.example",
      "1.2.3.4.nip.io",
      "chat.example.attacker.example",
      "bad host",
    ]
  ) {
    assert.equal(hostAllowed(host, ["https://chat.example"]), false, host);
  }
  for (
    const hostname of ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"]
  ) {
    assert.equal(listensOnLoopback(hostname), true, hostname);
  }
  for (const hostname of ["0.0.0.0", "::", "192.168.1.2", "chat.example"]) {
    assert.equal(listensOnLoopback(hostname), false, hostname);
  }
});
