/**
 * A `redis-server` for the cluster scenario, set up as the README asks of an
 * operator (append-only file, `appendfsync everysec`, no snapshots) so its
 * CPU includes what durability costs; on a free loopback port, with its files
 * in a temporary directory removed after the run (and on Ctrl-C), so a run
 * leaves nothing behind.
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
    "yes",
    "--appendfsync",
    "everysec",
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
