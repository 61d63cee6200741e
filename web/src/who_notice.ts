/**
 * The line the web client shows for a `/who` the user typed: the page's
 * members, with the room's count and how to ask for the next page when it
 * is not the whole list, or, for a page past the last member, what the
 * terminal shows.
 *
 * @module
 */

import type { ServerEvent } from "../../protocol.ts";
import { whoPastEnd } from "../../wire/text_codec.ts";

/**
 * The notice for one page of a typed `/who` (or `/who more`). `listed`: the
 * page went into the room's member list, so `/who more` (which goes on from
 * where that list ends) gives the page after it; a page that did not (one
 * typed from a cursor elsewhere) names its own next command instead.
 */
export function whoNotice(
  event: ServerEvent & { type: "who" },
  listed = true,
): string {
  if (event.members.length === 0 && event.count !== undefined) {
    return whoPastEnd(event.room, event.count);
  }
  const count = event.count === undefined ? "" : ` (${event.count})`;
  const more = event.next === undefined
    ? ""
    : listed
    ? "; more: /who more"
    : `; more: /who ${event.room} after ${event.next}`;
  return `${event.room}${count}: ${
    event.members.map((member) =>
      `${member.nick}${member.away !== undefined ? " (away)" : ""}`
    ).join(", ")
  }${more}`;
}
