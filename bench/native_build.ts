/**
 * Builds the benchmark's C programs (bench/native/) once per version of
 * their source, with `cc` or `gcc` -O2, into the OS temporary directory: a
 * run needs no build step, and a changed source is rebuilt.
 *
 * @module
 */

import { findExecutable } from "./process.ts";

const decoder = new TextDecoder();

/** Where built programs are kept: the OS temporary directory. */
function cacheRoot(): string {
  return Deno.env.get("TMPDIR") ?? "/tmp";
}

/**
 * The program built from `source` (a C file), named `name`; `missing` says
 * why there is none (no compiler, or it failed).
 */
export async function buildC(
  source: URL,
  name: string,
): Promise<{ path: string } | { missing: string }> {
  const text = await Deno.readFile(source);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", text));
  const hash = Array.from(
    digest.subarray(0, 8),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const dir = `${cacheRoot()}/tern-bench-${name}-${hash}`;
  const path = `${dir}/${name}`;
  try {
    if ((await Deno.stat(path)).isFile) return { path };
  } catch {
    // Not built yet.
  }
  const compiler = findExecutable("cc") ?? findExecutable("gcc");
  if (compiler === null) return { missing: "no C compiler (cc or gcc) found" };
  await Deno.mkdir(dir, { recursive: true });
  const temporary = `${path}.${Deno.pid}.tmp`;
  const file = decodeURIComponent(source.pathname);
  const output = await new Deno.Command(compiler, {
    args: ["-O2", "-std=gnu11", "-Wall", "-o", temporary, file],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    await Deno.remove(temporary).catch(() => {});
    return {
      missing: `${compiler} failed on ${file}: ${
        decoder.decode(output.stderr).trim().slice(0, 500)
      }`,
    };
  }
  await Deno.rename(temporary, path);
  return { path };
}
