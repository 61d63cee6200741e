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

/** The notice for one page of a typed `/who` (or `/who more`). */
export function whoNotice(event: ServerEvent & { type: "who" }): string {
  if (event.members.length === 0 && event.count !== undefined) {
    return whoPastEnd(event.room, event.count);
  }
  const count = event.count === undefined ? "" : ` (${event.count})`;
  const more = event.next === undefined ? "" : "; more: /who more";
  return `${event.room}${count}: ${
    event.members.map((member) =>
      `${member.nick}${member.away !== undefined ? " (away)" : ""}`
    ).join(", ")
  }${more}`;
}
