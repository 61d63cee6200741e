/**
 * Numbers: a fixed-size latency histogram (millions of deliveries cost the
 * same few kilobytes), medians across runs, and the plain-text tables the
 * benchmark prints.
 *
 * @module
 */

/** Sub-buckets per power of two: relative bucket width 1/64, about 1.6%. */
const SUB_BUCKETS = 64;
/** Values below this are counted exactly, one bucket per microsecond. */
const LINEAR_LIMIT = 2 * SUB_BUCKETS;
/** Largest shift for a 31-bit value: enough for 35 minutes in microseconds. */
const MAX_SHIFT = 31 - Math.log2(LINEAR_LIMIT);
const BUCKETS = LINEAR_LIMIT + MAX_SHIFT * SUB_BUCKETS;
const MAX_VALUE = 2 ** 31 - 1;

/**
 * A log-linear histogram of non-negative integers (microseconds here), like
 * HdrHistogram with two significant digits: recording is a few integer
 * operations and memory is fixed, so the load generator can record every
 * delivery instead of sampling.
 */
export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #max = 0;
  #min = Infinity;
  #sum = 0;

  /** Adds one value (clamped to 0 .. 2^31-1). */
  record(value: number): void {
    const v = value <= 0 ? 0 : value >= MAX_VALUE ? MAX_VALUE : value | 0;
    this.#counts[bucketOf(v)]!++;
    this.#count++;
    this.#sum += v;
    if (v > this.#max) this.#max = v;
    if (v < this.#min) this.#min = v;
  }

  /** Adds every value of `other`. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.#counts[i]!;
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#max = Math.max(this.#max, other.#max);
    this.#min = Math.min(this.#min, other.#min);
  }

  /**
   * Adds counts by bucket index, as another process with the same buckets
   * (bench/native/reader.c) recorded them, with that record's exact count,
   * sum, max and min.
   */
  addBuckets(
    buckets: ReadonlyArray<readonly [number, number]>,
    totals: { count: number; sum: number; max: number; min: number },
  ): void {
    if (totals.count === 0) return;
    for (const [index, count] of buckets) {
      if (!Number.isInteger(index) || index < 0 || index >= BUCKETS) {
        throw new RangeError(`no histogram bucket ${index}`);
      }
      this.#counts[index]! += count;
    }
    this.#count += totals.count;
    this.#sum += totals.sum;
    this.#max = Math.max(this.#max, totals.max);
    this.#min = Math.min(this.#min, totals.min);
  }

  /** The non-empty buckets as [index, count], for tests and transfer. */
  buckets(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    this.#counts.forEach((count, index) => {
      if (count > 0) out.push([index, count]);
    });
    return out;
  }

  /** How many values were recorded. */
  get count(): number {
    return this.#count;
  }

  /** The largest value recorded (exact), or 0. */
  get max(): number {
    return this.#max;
  }

  /** The mean (exact), or 0. */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /**
   * The value at quantile `q` (0..1), to within one bucket (1.6%); never
   * above the exact maximum. 0 when empty.
   */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(valueOf(i), this.#max);
    }
    return this.#max;
  }
}

function bucketOf(v: number): number {
  if (v < LINEAR_LIMIT) return v;
  const shift = 31 - Math.clz32(v) - Math.log2(SUB_BUCKETS);
  return LINEAR_LIMIT + (shift - 1) * SUB_BUCKETS + ((v >>> shift) -
    SUB_BUCKETS);
}

/** The middle of bucket `index`. */
function valueOf(index: number): number {
  if (index < LINEAR_LIMIT) return index;
  const k = index - LINEAR_LIMIT;
  const shift = Math.floor(k / SUB_BUCKETS) + 1;
  const sub = (k % SUB_BUCKETS) + SUB_BUCKETS;
  return sub * 2 ** shift + 2 ** shift / 2;
}

/** The median of the finite numbers in `values`, or null if there are none. */
export function median(values: readonly (number | null)[]): number | null {
  const finite = values.filter((v): v is number =>
    v !== null && Number.isFinite(v)
  ).sort((a, b) => a - b);
  if (finite.length === 0) return null;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 === 1
    ? finite[middle]!
    : (finite[middle - 1]! + finite[middle]!) / 2;
}

/** A number for a table: a few significant digits, thousands grouped. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return "-";
  }
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (Number.isInteger(value)) return String(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return "0";
  // Three digits, so a delivery ratio of 0.9987 does not print as "1.0".
  return value.toPrecision(3);
}

/** `ours / peer`, or null when it would be meaningless. */
export function ratio(
  ours: number | null | undefined,
  peer: number | null | undefined,
): number | null {
  if (
    ours === null || ours === undefined || peer === null ||
    peer === undefined || !Number.isFinite(ours) || !Number.isFinite(peer) ||
    peer === 0
  ) {
    return null;
  }
  return ours / peer;
}

/** Lays out rows of cells as an aligned text table with a header rule. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length))
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) =>
      i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)
    ).join("  ").trimEnd();
  return [
    line(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(line),
  ].join("\n");
}

/** Lays out rows as a GitHub-flavoured Markdown table. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(header),
    line(header.map((_, i) => (i === 0 ? "---" : "---:"))),
    ...rows.map(line),
  ].join("\n");
}
