/**
 * Secrets: comparing a given password with the configured one without
 * leaking, through timing, how much of it matched.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Whether `given` equals `expected`, in time that depends on neither. Both
 * are hashed first so that their lengths are equal and not revealed either.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { secretsEqual } from "./auth.ts";
 * assert.equal(secretsEqual("hunter2", "hunter2"), true);
 * assert.equal(secretsEqual("hunter3", "hunter2"), false);
 * ```
 */
export function secretsEqual(given: string, expected: string): boolean {
  const givenDigest = createHash("sha256").update(given).digest();
  const expectedDigest = createHash("sha256").update(expected).digest();
  return timingSafeEqual(givenDigest, expectedDigest);
}
