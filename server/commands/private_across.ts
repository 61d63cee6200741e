/**
 * `/msg` on a node of a cluster to someone this node does not hold: routed
 * by the nickname's cluster claim to the node and session holding it, live.
 * The sender gets what it would on one server: its copy (the confirmation,
 * with the message's id), a note when the recipient is away, or the same
 * errors. When no node holds the name, the single-server path takes over
 * (`fallback`): a registered nickname's waiting messages, else "no such
 * nick".
 *
 * @module
 */

import type { Call } from "./call.ts";
import type { ClusterPresence } from "../cluster/presence_seam.ts";
import { CLUSTER_DOWN } from "../nicknames.ts";
import { changedHandsMessage, remoteHolderOf } from "../private_peers.ts";

/** What a sender is told when Redis did not answer a private message in time. */
export const PRIVATE_UNCONFIRMED =
  "Not confirmed: the cluster's store (Redis) is not answering; the message is delivered if it answers in the end";

/**
 * Sends `text` from `nick` to whoever holds `call.request.to` on another
 * node; `fallback` when nobody does.
 */
export async function privateAcross(
  call: Call<"private">,
  presence: ClusterPresence,
  nick: string,
  text: string,
  fallback: () => void | Promise<void>,
): Promise<void> {
  const { hub, session, request } = call;
  const remote = presence.findRemote(request.to);
  if (remote === undefined) return fallback();
  if (session.muted) return call.fail("muted", "You are muted");
  if (session.privatePeers.changedHands(remote.nick, remoteHolderOf(remote))) {
    return call.fail(
      "holder_changed",
      changedHandsMessage(remote.nick, remote.since),
    );
  }
  const route = await presence.sendPrivate(request.to, {
    type: "private",
    ts: hub.now(),
    from: nick,
    to: remote.nick,
    text,
  }, session);
  switch (route.kind) {
    case "unavailable":
      return call.fail("unavailable", `Not sent: ${CLUSTER_DOWN}`);
    case "unreachable":
      return call.fail(
        "unavailable",
        `Not sent: the server ${route.nick} is connected to is out of reach right now; try again in a moment`,
      );
    case "unconfirmed":
      return call.fail("unavailable", PRIVATE_UNCONFIRMED);
    case "absent":
      return fallback();
    case "sent": {
      if (session.state !== "active") return;
      const { message, away } = route;
      // The sender's side keeps it when the sender has an account, as a
      // local message would be (the recipient's node keeps theirs).
      const from = session.account?.id ?? null;
      const store = from === null
        ? "no"
        : { from, to: null, pending: false, address: session.address };
      hub.sendPrivate(message, session, null, store, request.ref);
      if (away !== null) {
        call.send({
          type: "notice",
          text: `${message.to} is away${away ? `: ${away}` : ""}`,
        });
      }
      return;
    }
  }
}
