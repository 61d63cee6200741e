import assert from "node:assert/strict";
import { judgePersistence, persistenceWarning } from "./persistence.ts";

Deno.test("Redis persistence: the append-only file with fsync each second or always keeps the promise", () => {
  for (const fsync of ["everysec", "always"]) {
    const judged = judgePersistence({ appendonly: "yes", appendfsync: fsync });
    assert.deepEqual(judged, { kind: "aof", fsync });
    assert.equal(persistenceWarning(judged), null);
  }
});

Deno.test("Redis persistence: nothing on disk, snapshots only or appendfsync no are warned of", () => {
  const none = judgePersistence({ appendonly: "no", save: "" });
  assert.deepEqual(none, { kind: "none" });
  assert.match(persistenceWarning(none)!, /keeps nothing on disk/);
  const snapshots = judgePersistence({
    appendonly: "no",
    save: "3600 1 300 100",
  });
  assert.deepEqual(snapshots, { kind: "snapshots", save: "3600 1 300 100" });
  assert.match(persistenceWarning(snapshots)!, /snapshots only/);
  const lazy = judgePersistence({ appendonly: "yes", appendfsync: "no" });
  assert.match(persistenceWarning(lazy)!, /appendfsync everysec/);
  assert.match(
    persistenceWarning({ kind: "unknown", reason: "CONFIG GET refused" })!,
    /not checked \(CONFIG GET refused\)/,
  );
});
