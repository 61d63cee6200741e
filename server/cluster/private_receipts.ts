/**
 * Receipts for private messages sent to someone on another node. Redis
 * counts who heard a publish, but a node that hangs (stopped, swapping)
 * keeps its subscription open, so Redis counts it as having heard a
 * message it may never deliver: should that node die before it wakes, the
 * message is lost with nobody told. So the recipient's node answers each
 * message with a receipt on the sender's node's private channel: delivered,
 * or its recipient had left. The sender's node waits for it (the sender's
 * confirmation waits too, at most `--redis-timeout`), and hears what came
 * of a message whose receipt was late: its receipt, else its node's death
 * (swept after `--node-timeout`), else nothing within `keepMs`.
 *
 * Pure but for its timers: presence.ts sends and reads the lines.
 *
 * @module
 */

/**
 * What came of a private message: `delivered` to its recipient, its
 * recipient had `left` that node before it arrived, its node was `lost`
 * (died before answering), or `unknown` (no receipt within the time kept,
 * or this node is closing).
 */
export type ReceiptOutcome = "delivered" | "left" | "lost" | "unknown";

/** The start of a receipt line on a node's private channel. */
const RECEIPT_PREFIX = "receipt ";

/** The line that answers receipt `token` with `outcome`. */
export function encodeReceipt(
  token: number,
  outcome: "delivered" | "left",
): string {
  return `${RECEIPT_PREFIX}${token} ${outcome}`;
}

/**
 * Reads a receipt line: null when `line` is not one (a private message),
 * undefined when it is one but malformed.
 */
export function decodeReceipt(
  line: string,
): { token: number; outcome: "delivered" | "left" } | null | undefined {
  if (!line.startsWith(RECEIPT_PREFIX)) return null;
  const [tokenText, outcome] = line.slice(RECEIPT_PREFIX.length).split(" ");
  const token = Number(tokenText);
  if (!Number.isSafeInteger(token) || token <= 0) return undefined;
  if (outcome !== "delivered" && outcome !== "left") return undefined;
  return { token, outcome };
}

interface Waiter {
  node: string;
  settle: (outcome: ReceiptOutcome) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The receipts this node waits for, by token. */
export class PrivateReceipts {
  readonly #keepMs: number;
  readonly #waiting = new Map<number, Waiter>();
  #next = 1;

  /**
   * Receipts waited for at most `keepMs` each.
   * @param keepMs longest a receipt is waited for before it is `unknown`
   */
  constructor(keepMs: number) {
    this.#keepMs = keepMs;
  }

  /** Receipts waited for now. */
  get size(): number {
    return this.#waiting.size;
  }

  /**
   * A receipt to wait for, from node `node`: its token (sent with the
   * message) and what it comes to. The promise never rejects.
   */
  expect(node: string): { token: number; outcome: Promise<ReceiptOutcome> } {
    const token = this.#next++;
    let settle: (outcome: ReceiptOutcome) => void = () => {};
    const outcome = new Promise<ReceiptOutcome>((resolve) => {
      settle = resolve;
    });
    const timer = setTimeout(() => this.settle(token, "unknown"), this.#keepMs);
    this.#waiting.set(token, { node, settle, timer });
    return { token, outcome };
  }

  /** Receipt `token` came (or its fate is known): told once, then forgotten. */
  settle(token: number, outcome: ReceiptOutcome): void {
    const waiter = this.#waiting.get(token);
    if (waiter === undefined) return;
    this.#waiting.delete(token);
    clearTimeout(waiter.timer);
    waiter.settle(outcome);
  }

  /** Node `node` died or stopped: what it had not answered is `lost`. */
  nodeGone(node: string): void {
    for (const [token, waiter] of [...this.#waiting]) {
      if (waiter.node === node) this.settle(token, "lost");
    }
  }

  /** Stops waiting for anything (closing): each is `unknown`. */
  close(): void {
    for (const token of [...this.#waiting.keys()]) {
      this.settle(token, "unknown");
    }
  }
}
