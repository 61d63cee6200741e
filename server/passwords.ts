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
 * import { secretsEqual } from "./passwords.ts";
 * assert.equal(secretsEqual("hunter2", "hunter2"), true);
 * assert.equal(secretsEqual("hunter3", "hunter2"), false);
 * ```
 */
export function secretsEqual(given: string, expected: string): boolean {
  const givenDigest = createHash("sha256").update(given).digest();
  const expectedDigest = createHash("sha256").update(expected).digest();
  return timingSafeEqual(givenDigest, expectedDigest);
}

/**
 * PBKDF2-SHA256 iterations for new account passwords: the OWASP
 * recommendation for this hash. Each account keeps the count it was made
 * with, so raising it later does not lock anyone out.
 */
export const DEFAULT_PASSWORD_ITERATIONS = 600_000;

/** A password hash and what is needed to check another against it. */
export interface PasswordHash {
  /** Random for each hash, so equal passwords hash differently. */
  salt: Uint8Array<ArrayBuffer>;
  /** The PBKDF2-SHA256 output for the password and salt. */
  hash: Uint8Array<ArrayBuffer>;
  /**
   * The work factor it was made with, so raising the default leaves old hashes
   * checkable.
   */
  iterations: number;
}

const textEncoder = new TextEncoder();

async function derive(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "raw",
    textEncoder.encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

/**
 * Hashes a new password with a fresh random salt. Web Crypto derives off the
 * event loop, so a slow hash does not stall other connections.
 */
export async function hashPassword(
  password: string,
  iterations: number = DEFAULT_PASSWORD_ITERATIONS,
): Promise<PasswordHash> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return { salt, hash: await derive(password, salt, iterations), iterations };
}

/** Whether `password` matches `stored`, compared in constant time. */
export async function verifyPassword(
  password: string,
  stored: PasswordHash,
): Promise<boolean> {
  const candidate = await derive(password, stored.salt, stored.iterations);
  return candidate.length === stored.hash.length &&
    timingSafeEqual(candidate, stored.hash);
}
