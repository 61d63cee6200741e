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
import type {
  ClusterPresence,
  PrivateRoute,
} from "../cluster/presence_seam.ts";
import type { PrivateMessage } from "../../protocol.ts";
import { describeError } from "../log.ts";
import { CLUSTER_DOWN } from "../nicknames.ts";
import { changedHandsMessage, remoteHolderOf } from "../private_peers.ts";

/** What a sender is told when Redis did not answer a private message in time. */
export const PRIVATE_UNCONFIRMED =
  "Not confirmed: the cluster's store (Redis) is not answering; the message is delivered if it answers in the end";

/**
 * What a sender is told when Redis handed its private message to the node
 * holding `nick`, but that node has not said it delivered it in time.
 */
export function holderSilent(nick: string): string {
  return `Not confirmed: the server ${nick} is connected to is not answering; you will be told whether the message reached them`;
}

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
  to: string = call.request.to,
): Promise<void> {
  const { hub, session } = call;
  const remote = presence.findRemote(to);
  if (remote === undefined) return fallback();
  if (session.muted) return call.fail("muted", "You are muted");
  if (session.privatePeers.changedHands(remote.nick, remoteHolderOf(remote))) {
    return call.fail(
      "holder_changed",
      changedHandsMessage(remote.nick, remote.since),
    );
  }
  const route = await presence.sendPrivate(to, {
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
    case "left":
      // Gone before it reached them: as for anyone connected nowhere (a
      // registered nickname's message waits for it), as on one server.
      return fallback();
    case "unconfirmed":
      call.fail(
        "unavailable",
        route.silent === "store"
          ? PRIVATE_UNCONFIRMED
          : holderSilent(remote.nick),
      );
      route.late.then((late) => {
        if (session.state !== "active") return;
        if (late?.kind === "left") return fallback();
        if (late !== null) lateAnswer(call, late);
        else if (route.silent === "holder") {
          call.fail(
            "unavailable",
            `Not known whether your private message to ${remote.nick} was delivered: the server they are connected to never said`,
          );
        }
      }).catch((error: unknown) =>
        hub.log("error", "delivery_failed", {
          session: session.id,
          error: describeError(error),
        })
      );
      return;
    case "absent":
      return fallback();
    case "sent": {
      if (session.state !== "active") return;
      const { message, away } = route;
      confirm(call, message);
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

/**
 * The sender's copy of a message that reached the recipient's node: its
 * confirmation, with its id and the request's ref.
 */
function confirm(call: Call<"private">, message: PrivateMessage): void {
  const { hub, session, request } = call;
  // The sender's side keeps it when the sender has an account, as a
  // local message would be (the recipient's node keeps theirs).
  const from = session.account?.id ?? null;
  const store = from === null
    ? "no"
    : { from, to: null, pending: false, address: session.addressKey };
  hub.sendPrivate(message, session, null, store, request.ref);
}

/**
 * What a message told "not confirmed" came to once Redis answered: its
 * confirmation if it went, else that it did not after all.
 */
function lateAnswer(call: Call<"private">, late: PrivateRoute): void {
  const to = call.request.to;
  switch (late.kind) {
    case "sent":
      return confirm(call, late.message);
    case "unreachable":
      return call.fail(
        "unavailable",
        `Not sent after all: the server ${late.nick} is connected to was out of reach`,
      );
    case "absent":
      return call.fail(
        "no_such_nick",
        `Not sent after all: nobody was called ${to} by then`,
      );
    default:
      return;
  }
}
