import assert from "node:assert/strict";
import { parseServerArgs, UsageError } from "../options.ts";

const base = ["--db", ":memory:"];

Deno.test("--redis takes a redis:// or rediss:// URL", () => {
  for (const url of ["redis://127.0.0.1:6379", "rediss://u:p@example:6380/2"]) {
    assert.equal(parseServerArgs([...base, "--redis", url]).redis, url);
  }
});

Deno.test("without --redis the server stays a single process", () => {
  assert.equal(parseServerArgs(base).redis, undefined);
});

Deno.test("a --redis that is no Redis URL is a usage error", () => {
  for (const url of ["127.0.0.1:6379", "http://127.0.0.1:6379", "redis"]) {
    assert.throws(
      () => parseServerArgs([...base, "--redis", url]),
      (error: unknown) =>
        error instanceof UsageError && error.message.startsWith("--redis"),
      url,
    );
  }
});
