/**
 * `deno task doc-lint`: `deno doc --lint` over every module that is not a
 * test, so an export without JSDoc (or with an untyped or private type in
 * its signature) fails `deno task test` wherever it is added. The modules
 * are the `.ts` files at the top of {@linkcode SHALLOW_DIRS} and at any
 * depth under {@linkcode DEEP_DIRS}, but never a `*_test.ts`. `tests/` and
 * `bench/` are left out: test helpers and benchmark tools are no one's API.
 *
 * @module
 */

import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** Directories whose own modules are linted: the entry points, web/screenshot.ts. */
export const SHALLOW_DIRS: readonly string[] = [".", "web"];

/** Directories whose every module is linted, at any depth. */
export const DEEP_DIRS: readonly string[] = [
  "wire",
  "server",
  "client",
  "web/src",
  "examples",
  "tools",
];

/** Whether a file of this name is a module to lint: TypeScript, not a test. */
export function isDocModule(name: string): boolean {
  return name.endsWith(".ts") && !name.endsWith("_test.ts");
}

/** The modules directly in `dir` (with `deep`, also in its subdirectories). */
async function modulesIn(dir: string, deep: boolean): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && deep) found.push(...await modulesIn(path, deep));
    else if (entry.isFile && isDocModule(entry.name)) found.push(path);
  }
  return found;
}

/**
 * The modules to lint in the repository at `root`, relative to it and
 * sorted, so the command line is the same on every machine.
 */
export async function docModules(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of SHALLOW_DIRS) {
    found.push(...await modulesIn(join(root, dir), false));
  }
  for (const dir of DEEP_DIRS) {
    found.push(...await modulesIn(join(root, dir), true));
  }
  return found.map((path) => relative(root, path)).sort();
}

if (import.meta.main) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const modules = await docModules(root);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", ...modules],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code === 0) console.log(`deno doc --lint: ${modules.length} modules`);
  Deno.exit(code);
}
