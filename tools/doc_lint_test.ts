import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { docModules } from "./doc_lint.ts";

Deno.test("doc lint takes every module but tests, tests/ and bench/", async () => {
  const root = await Deno.makeTempDir();
  try {
    const files = [
      "server.ts",
      "server_test.ts",
      "README.md",
      "server/hub.ts",
      "server/hub_test.ts",
      "server/cluster/presence.ts",
      "server/cluster/presence_test.ts",
      "wire/names.ts",
      "client/render.ts",
      "web/screenshot.ts",
      "web/app.js",
      "web/src/model.ts",
      "web/src/model_test.ts",
      "examples/ping_bot.ts",
      "tests/helpers.ts",
      "tests/chat_test.ts",
      "bench/loadgen.ts",
      "tools/doc_lint.ts",
    ];
    for (const file of files) {
      const path = join(root, file);
      await Deno.mkdir(join(path, ".."), { recursive: true });
      await Deno.writeTextFile(path, "");
    }
    assert.deepEqual(await docModules(root), [
      "client/render.ts",
      "examples/ping_bot.ts",
      "server.ts",
      "server/cluster/presence.ts",
      "server/hub.ts",
      "tools/doc_lint.ts",
      "web/screenshot.ts",
      "web/src/model.ts",
      "wire/names.ts",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("doc lint covers this repository's modules", async () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const modules = await docModules(root);
  for (const module of ["server.ts", "server/hub.ts", "web/src/model.ts"]) {
    assert.ok(modules.includes(module), module);
  }
  assert.equal(modules.filter((path) => path.endsWith("_test.ts")).length, 0);
});
