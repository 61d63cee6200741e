/**
 * The open-file limit. Every benchmark client is a socket in this process and
 * another in the server, which inherits this process's limit, so 10,000 idle
 * connections need more than 10,000 descriptors on each side. Deno raises
 * its own soft limit to the hard one at startup; this module checks that, and
 * raises the soft limit itself (through libc's setrlimit) when it has not.
 *
 * @module
 */

import { openFileLimits } from "./procstat.ts";

/** Linux's RLIMIT_NOFILE resource number. */
const RLIMIT_NOFILE = 7;

/** What {@linkcode ensureOpenFiles} found or did. */
export interface OpenFilesCheck {
  /** Whether `needed` descriptors are now allowed. */
  ok: boolean;
  soft: number;
  hard: number;
  /** A sentence for the user when not ok, or when the limit was raised. */
  message: string | null;
}

/**
 * Makes sure this process (and so every server it starts) may open `needed`
 * files: raises the soft limit up to the hard one when that is enough, and
 * otherwise explains how to raise the hard limit.
 */
export function ensureOpenFiles(needed: number): OpenFilesCheck {
  const before = openFileLimits();
  if (before.soft >= needed) {
    return { ok: true, ...before, message: null };
  }
  if (before.hard < needed) {
    return {
      ok: false,
      ...before,
      message:
        `needs ${needed} open files but the hard limit is ${before.hard}; ` +
        `raise it (as root: ulimit -Hn ${needed}; or LimitNOFILE= / ` +
        `/etc/security/limits.conf) or use fewer clients`,
    };
  }
  let raised = false;
  try {
    raised = setSoftLimit(Math.min(before.hard, Math.max(needed, 65536)));
  } catch {
    raised = false;
  }
  const after = openFileLimits();
  return {
    ok: after.soft >= needed,
    ...after,
    message: raised && after.soft >= needed
      ? `raised the open-file limit from ${before.soft} to ${after.soft}`
      : `needs ${needed} open files but the soft limit is ${after.soft} and ` +
        `could not be raised here; run \`ulimit -n ${needed}\` first`,
  };
}

/** setrlimit(RLIMIT_NOFILE) through FFI; true on success. */
function setSoftLimit(soft: number): boolean {
  const libc = Deno.dlopen("libc.so.6", {
    getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  });
  try {
    const limits = new BigUint64Array(2);
    const bytes = new Uint8Array(limits.buffer);
    if (libc.symbols.getrlimit(RLIMIT_NOFILE, bytes) !== 0) return false;
    limits[0] = BigInt(soft);
    return libc.symbols.setrlimit(RLIMIT_NOFILE, bytes) === 0;
  } finally {
    libc.close();
  }
}
