/**
 * The layout's promise: the client binary carries no server module and no
 * SQLite. Checked on the real module graph, as `deno info` reports it.
 */

import assert from "node:assert/strict";

Deno.test("the client's module graph holds no server module and no SQLite", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "client.ts"],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: Array<{ specifier: string }>;
  };
  const specifiers = graph.modules.map((module) => module.specifier);
  assert.ok(specifiers.some((s) => s.endsWith("/client.ts")));
  const offending = specifiers.filter((s) =>
    s.includes("/server/") || s.endsWith("/server.ts") || s.includes("sqlite")
  );
  assert.deepEqual(offending, []);
});
