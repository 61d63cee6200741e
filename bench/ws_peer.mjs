// A minimal broadcast server on Node's `ws` library, the peer the WebSocket
// scenario compares tern with: every text frame goes to every open client,
// as tern's JSON mode sends a room message to every member, its sender
// included. Same frame cap as tern's line limit, no compression (ws's
// default), a client past tern's soft queue limit is terminated.
// Run: node bench/ws_peer.mjs PORT (with `ws` resolvable from NODE_PATH).
import { WebSocketServer } from "ws";

const MAX_PAYLOAD = 4096;
const MAX_BUFFERED = 1024 * 1024;
const port = Number(process.argv[2] ?? 0);
const server = new WebSocketServer({
  host: "127.0.0.1",
  port,
  maxPayload: MAX_PAYLOAD,
});
server.on("listening", () => {
  console.log(`listening ${server.address().port}`);
});
server.on("connection", (socket) => {
  socket.on("message", (data, binary) => {
    if (binary) return;
    for (const client of server.clients) {
      if (client.readyState !== 1) continue;
      if (client.bufferedAmount > MAX_BUFFERED) {
        client.terminate();
        continue;
      }
      client.send(data, { binary: false });
    }
  });
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
