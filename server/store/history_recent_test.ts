import assert from "node:assert/strict";
import { HistoryStore } from "./history_store.ts";

Deno.test("the recent page is reused between writes, and a commit or prune renews it", () => {
  const store = new HistoryStore(":memory:");
  try {
    const message = (id: number, ts = id) => ({
      type: "message" as const,
      id,
      ts,
      room: "#lobby",
      from: "alice",
      text: `m${id}`,
    });
    store.queueRoomMessage(message(1));
    store.commit();
    const first = store.roomMessages("#LOBBY", 5);
    assert.deepEqual(first.map((m) => m.id), [1]);
    first.pop();
    assert.equal(store.roomMessages("#lobby", 5).length, 1, "a copy each time");
    store.queueRoomMessage(message(2));
    assert.deepEqual(store.roomMessages("#lobby", 5).map((m) => m.id), [1]);
    store.commit();
    assert.deepEqual(store.roomMessages("#lobby", 5).map((m) => m.id), [1, 2]);
    assert.deepEqual(store.roomMessages("#lobby", 1).map((m) => m.id), [2]);
    store.prune(10_000, { historyMaxAgeMs: 1, historyMaxPerRoom: 0 });
    assert.deepEqual(store.roomMessages("#lobby", 5), []);
  } finally {
    store.close();
  }
});
