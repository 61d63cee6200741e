/**
 * The page's script is served as committed (no build at run time), so the
 * committed bundle must be what `deno task build-web` makes of the sources.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("web/app.js is the fresh bundle of web/src (run deno task build-web)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern-bundle-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "web/src/main.ts",
        "-o",
        `${dir}/app.js`,
      ],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(
      output.code,
      0,
      new TextDecoder().decode(output.stderr),
    );
    const fresh = await Deno.readTextFile(`${dir}/app.js`);
    const committed = await Deno.readTextFile(`${ROOT}/web/app.js`);
    assert.ok(
      fresh === committed,
      "web/app.js is stale: run `deno task build-web` and commit it",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
