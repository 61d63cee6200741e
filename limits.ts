/**
 * Every limit the server enforces, each with its default, its command-line
 * flag and one line of explanation, in one table. Flag parsing, `--help` and
 * the README's limits table all come from {@linkcode LIMIT_SPECS}, and a test
 * checks the README lists every flag, so a limit cannot exist undocumented.
 *
 * @module
 */

import { DEFAULT_MAX_LINE_BYTES } from "./protocol.ts";

/** The server's limits, in bytes, counts and milliseconds. */
export interface Limits {
  /** Longest line accepted, without its newline. */
  maxLineBytes: number;
  /** Bytes queued for one connection before it is cut off as too slow. */
  maxSendQueueBytes: number;
  /** How long one write may wait on a peer that does not read. */
  writeTimeoutMs: number;
  /** Room messages kept per room and replayed on join. */
  historyLength: number;
  /** Time allowed between a goodbye and closing the socket. */
  closeGraceMs: number;
}

/** How a limit's flag value is written on the command line. */
type Unit = "bytes" | "count" | "seconds";

/** One row of the limits table. */
export interface LimitSpec {
  key: keyof Limits;
  flag: string;
  unit: Unit;
  /** The default, in the flag's unit. */
  default: number;
  /** Whether 0 is allowed (meaning "off" where the description says so). */
  allowZero: boolean;
  description: string;
}

/** The limits table; defaults come from what mature servers ship. */
export const LIMIT_SPECS: readonly LimitSpec[] = [
  {
    key: "maxLineBytes",
    flag: "max-line",
    unit: "bytes",
    default: DEFAULT_MAX_LINE_BYTES,
    allowZero: false,
    description:
      "longest line a client may send; a longer one is refused and discarded",
  },
  {
    key: "maxSendQueueBytes",
    flag: "max-send-queue",
    unit: "bytes",
    default: 96 * 1024,
    allowZero: false,
    description:
      "output queued for one client before it is disconnected as too slow",
  },
  {
    key: "writeTimeoutMs",
    flag: "write-timeout",
    unit: "seconds",
    default: 10,
    allowZero: false,
    description:
      "how long a write may wait on a client that does not read before it is disconnected",
  },
  {
    key: "historyLength",
    flag: "history",
    unit: "count",
    default: 20,
    allowZero: true,
    description: "room messages kept per room and replayed to whoever joins",
  },
  {
    key: "closeGraceMs",
    flag: "close-grace",
    unit: "seconds",
    default: 2,
    allowZero: true,
    description:
      "time a disconnected client gets to receive its last line before the socket closes",
  },
];

function toInternal(spec: LimitSpec, value: number): number {
  return spec.unit === "seconds" ? Math.round(value * 1000) : value;
}

/** The defaults of every limit. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze(
  Object.fromEntries(
    LIMIT_SPECS.map((spec) => [spec.key, toInternal(spec, spec.default)]),
  ) as unknown as Limits,
);

/**
 * Reads limit flags (as strings, from `node:util` parseArgs) into limits;
 * returns the first invalid value as an error message instead of throwing.
 */
export function parseLimitFlags(
  values: Record<string, unknown>,
): { ok: true; limits: Limits } | { ok: false; error: string } {
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const spec of LIMIT_SPECS) {
    const raw = values[spec.flag];
    if (raw === undefined) continue;
    const text = String(raw);
    const value = Number(text);
    const integral = spec.unit !== "seconds";
    if (
      text.trim() === "" || !Number.isFinite(value) || value < 0 ||
      (value === 0 && !spec.allowZero) ||
      (integral && !Number.isInteger(value))
    ) {
      const kind = integral ? "a whole number" : "a number of seconds";
      const floor = spec.allowZero ? "0 or more" : "above 0";
      return {
        ok: false,
        error: `--${spec.flag} must be ${kind}, ${floor}; got "${text}"`,
      };
    }
    limits[spec.key] = toInternal(spec, value);
  }
  return { ok: true, limits };
}

/** The `--help` lines for the limits. */
export function limitsHelp(): string {
  return LIMIT_SPECS.map((spec) =>
    `  --${spec.flag} ${spec.unit.toUpperCase()}`.padEnd(30) +
    `${spec.description} (default ${spec.default})`
  ).join("\n");
}
