/**
 * Whether the cluster's Redis keeps what it is given across its own restart.
 * In a cluster a room message is "stored before delivered" in Redis (its
 * room's stream), so the promise is only as good as Redis's persistence:
 * the append-only file with `appendfsync everysec` (at most about a second
 * lost if the machine dies) or `always`. Checked once at start with
 * `CONFIG GET`; a Redis that forbids CONFIG (managed services often do) is
 * said to be unchecked, never a reason not to start.
 *
 * @module
 */

import type { Hub } from "../hub.ts";
import { firstLine } from "../../wire/endpoint.ts";

import type { RedisClient as Client } from "./redis_client.ts";

/** What Redis says it keeps on disk. */
export type Persistence =
  /** The append-only file, synced as `fsync` says. */
  | { kind: "aof"; fsync: string }
  /** Snapshots only (`save` rules), no append-only file. */
  | { kind: "snapshots"; save: string }
  /** Nothing on disk. */
  | { kind: "none" }
  /** CONFIG GET was refused or failed. */
  | { kind: "unknown"; reason: string };

/** Reads `CONFIG GET appendonly appendfsync save` answers. */
export function judgePersistence(
  config: Readonly<Record<string, string>>,
): Persistence {
  if (config.appendonly === "yes") {
    return { kind: "aof", fsync: config.appendfsync ?? "everysec" };
  }
  const save = (config.save ?? "").trim();
  return save === "" ? { kind: "none" } : { kind: "snapshots", save };
}

/**
 * What an operator should be told about `persistence`, or null when it
 * keeps the durability promise.
 */
export function persistenceWarning(persistence: Persistence): string | null {
  switch (persistence.kind) {
    case "aof":
      return persistence.fsync === "no"
        ? "Redis has appendfsync no: the system decides when the append-only file reaches the disk, so a crash can lose more than the last second of room history; set appendfsync everysec"
        : null;
    case "snapshots":
      return `Redis keeps snapshots only (save "${persistence.save}"): a Redis restart loses the room history written since the last one; set appendonly yes (appendfsync everysec)`;
    case "none":
      return 'Redis keeps nothing on disk (appendonly no, save ""): a Redis restart loses every room\'s history; set appendonly yes (appendfsync everysec)';
    case "unknown":
      return `Redis persistence not checked (${persistence.reason}): make sure Redis runs with appendonly yes and appendfsync everysec, or room history can be lost when Redis restarts`;
  }
}

/** Asks Redis; a refusal (no CONFIG permission) is "unknown", not an error. */
export async function readPersistence(client: Client): Promise<Persistence> {
  try {
    const config = await client.configGet([
      "appendonly",
      "appendfsync",
      "save",
    ]) as Record<string, string>;
    return judgePersistence(config);
  } catch (error) {
    return {
      kind: "unknown",
      reason: `CONFIG GET refused: ${firstLine(error)}`,
    };
  }
}

/**
 * Checks Redis's persistence at start: logged either way, and a warning,
 * when there is one, is also kept for operators (told on /oper).
 */
export async function checkPersistence(
  client: Client,
  hub: Hub,
): Promise<void> {
  const persistence = await readPersistence(client);
  const warning = persistenceWarning(persistence);
  if (warning === null) {
    hub.log("info", "cluster_persistence", { ...persistence });
    return;
  }
  hub.log("warn", "cluster_persistence_weak", {
    ...persistence,
    warning,
  });
  hub.warnings.push(warning);
}
