/**
 * The source of the peer the WebSocket scenario compares tern with, a
 * minimal broadcast server on Node's `ws` library. Kept as text, written
 * beside its own `node_modules` and run under Node by scenario w
 * (bench/websocket_scenario.ts):
 * it is Node code, which Deno's type check cannot resolve.
 *
 * @module
 */

/** Scenario w writes this to ws_peer.mjs and runs it with node. */
export const WS_PEER_SOURCE: string =
  `// A minimal broadcast server on Node's \`ws\` library, the peer the WebSocket
// scenario compares tern with: every text frame goes to every open client,
// as tern's JSON mode sends a room message to every member, its sender
// included. Same frame cap as tern's line limit, no compression (ws's
// default), a client past tern's soft queue limit is terminated.
// Run: node ws_peer.mjs PORT, beside a node_modules holding \`ws\`.
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
  console.log(\`listening \${server.address().port}\`);
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
`;
