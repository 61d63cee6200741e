/**
 * What the reply-order tests share: requests sent in one write, and the
 * lines that answer them picked out by their refs.
 */

import type { LineClient } from "./helpers.ts";

const encoder = new TextEncoder();

/** JSON requests as the bytes of one write. */
export function oneWrite(...requests: object[]): Uint8Array {
  return encoder.encode(
    requests.map((request) => JSON.stringify(request) + "\n").join(""),
  );
}

/** The ref of a JSON line, if it has one. */
export function refOf(line: string): unknown {
  return line.startsWith("{") ? JSON.parse(line).ref : undefined;
}

/**
 * Sends `first` (ref `said`) and `then` (ref `asked`) in one write; returns
 * the lines carrying either ref, in arrival order, once both have come.
 */
export async function inOneWrite(
  client: LineClient,
  first: object,
  then: object,
): Promise<string[]> {
  const start = client.received.length;
  await client.sendBytes(
    oneWrite({ ...first, ref: "said" }, { ...then, ref: "asked" }),
  );
  const mine = () =>
    client.received.slice(start).filter((line) =>
      refOf(line) === "said" || refOf(line) === "asked"
    );
  await client.waitFor(
    () =>
      mine().some((l) => refOf(l) === "said") &&
      mine().some((l) => refOf(l) === "asked"),
    "the first request's answer and the second's",
  );
  return mine();
}
