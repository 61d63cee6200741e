/**
 * A `redis-server` for the cluster scenario: a free loopback port, a
 * temporary directory for anything it writes (removed after, and on Ctrl-C),
 * no snapshots and no append-only file, so a run leaves nothing behind and
 * Redis's CPU is the cost of the traffic alone.
 *
 * @module
 */

import {
  findExecutable,
  freePort,
  makeTempDir,
  type ServerProcess,
  startProcess,
} from "./process.ts";

/** Time Redis gets to say it is ready. */
const START_TIMEOUT_MS = 15_000;

/** A running redis-server. */
export interface BenchRedis {
  process: ServerProcess;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/** Null when `redis-server` can run here; otherwise how to install it. */
export function redisMissing(): string | null {
  return findExecutable("redis-server") === null
    ? "redis-server is not installed (apt-get install redis-server)"
    : null;
}

/** Starts a fresh redis-server on loopback; waits until it is ready. */
export async function startRedis(): Promise<BenchRedis> {
  const path = findExecutable("redis-server");
  if (path === null) throw new Error(redisMissing()!);
  const port = freePort();
  const temp = await makeTempDir("tern-bench-redis-");
  const process = startProcess("redis-server", path, [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    temp.path,
    "--save",
    "",
    "--appendonly",
    "no",
    "--loglevel",
    "notice",
  ]);
  try {
    await process.waitForLine(/Ready to accept connections/, START_TIMEOUT_MS);
  } catch (error) {
    await process.stop();
    await temp.remove();
    throw error;
  }
  return {
    process,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      await process.stop();
      await temp.remove();
    },
  };
}
