/// <reference lib="dom" />
/**
 * The web client's page: the login form, the conversation lists, the
 * messages and the input line, driven by events from the server. Every
 * string a person or the server wrote reaches the page through
 * `textContent`, never as HTML.
 *
 * @module
 */

import type {
  ClientRequest,
  PrivateMessage,
  RoomMessage,
  ServerEvent,
} from "../../wire/events.ts";
import { decodeTextRequest } from "../../wire/text_codec.ts";
import { byeMeansReconnect } from "../../wire/bye.ts";
import { foldKey } from "../../wire/names.ts";
import { whoNotice } from "./who_notice.ts";
import { isWhoMore } from "../../wire/who_more.ts";
import { Connection } from "./connection.ts";
import { InputHistory } from "./input_history.ts";
import { linkParts } from "./links.ts";
import { DEFAULT_MAX_LINE_BYTES } from "../../wire/framing.ts";
import { announcedPace, SendPacer } from "../../client/send_pacer.ts";
import {
  filledLines,
  pastedRequests,
  requestBytes,
  tooLong,
} from "./outgoing.ts";
import {
  answersWho,
  type ChatLine,
  ChatModel,
  type Conversation,
  conversationKey,
  conversationOfRef,
  GAP_PAGE,
  moreMembersRequest,
  nickColor,
  OLDER_PAGE,
  privateRef,
  TYPED_REF,
  typedRef,
  whoPageRole,
} from "./model.ts";

/** Nickname colors in style.css: `.nick-0` to `.nick-7`. */
const NICK_COLORS = 8;

/** How close to the top (pixels) a scroll asks for older messages. */
const LOAD_OLDER_MARGIN_PX = 40;

/** The `ref` of the requests for private history missed while away. */
const RESUME_REF = "resume";

/** How often the room list is refreshed while connected. */
const ROOMS_REFRESH_MS = 20_000;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page lacks #${id}`);
  return found as T;
}

/** A request from the input box waiting for its turn, with what was typed. */
interface Outgoing {
  /** The request; for a `/who more`, a stand-in until its turn. */
  request: ClientRequest;
  /** The line as typed: put back in the box if it never leaves. */
  typed: string;
  /**
   * A `/who more`, whose page is decided in its turn (ChatModel.whoMore),
   * once every `who` asked before it is answered.
   */
  whoMore?: true;
}

/** What was typed on the login form, kept in memory to log in again. */
interface Login {
  nick: string;
  room: string;
  password?: string;
  identify?: string;
}

/** The page. */
class ChatPage {
  readonly model = new ChatModel();
  readonly connection: Connection;
  #login: Login | null = null;
  #loggedIn = false;
  #quitting = false;
  /** Logged in before on this page: a welcome now is a reconnection. */
  #wasLoggedIn = false;
  /** The server said goodbye on this socket: its close needs no words. */
  #byeSeen = false;
  /** Why the server last said goodbye, for the form shown after it. */
  #byeReason = "";
  /** Rooms whose replay after a reconnect must be checked for a gap. */
  #resumeFrom = new Map<string, number>();
  /** The lines now on screen, to append rather than redraw. */
  #shown: ChatLine[] = [];
  #shownKey: string | null = null;
  #roomsTimer: ReturnType<typeof setInterval> | undefined;
  /** The room a click asked to join or switch to, shown once it is current. */
  #switchingTo: string | null = null;
  /** The longest request the server reads (its welcome says). */
  #maxLine = DEFAULT_MAX_LINE_BYTES;
  /** The server's flood budget, kept a little under; null: none. */
  #pacer: SendPacer | null = null;
  /** Typed lines not sent yet, in order: a paste goes at the server's pace. */
  #outbox: Outgoing[] = [];
  #outboxTimer: ReturnType<typeof setTimeout> | undefined;
  /** Lines sent from the box, for Up/Down recall. */
  readonly #sent = new InputHistory();
  /** Ticks the "reconnecting in N s" status down while disconnected. */
  #countdownTimer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.connection = new Connection(`${scheme}//${location.host}/ws`, {
      onOpen: () => this.#opened(),
      onEvent: (event) => this.#event(event),
      onClose: (retry) => this.#closed(retry),
    });
    element<HTMLFormElement>("login-form").addEventListener(
      "submit",
      (event) => {
        event.preventDefault();
        this.#submitLogin();
      },
    );
    element<HTMLFormElement>("send-form").addEventListener(
      "submit",
      (event) => {
        event.preventDefault();
        this.#submitLine();
      },
    );
    // The box holds several lines (a paste keeps its line breaks): Enter
    // sends, Shift+Enter starts a new line.
    // Up on the box's first line recalls the line sent before, Down on its
    // last goes forward again, back to what was being typed.
    element("input").addEventListener("keydown", (event) => {
      if (event.isComposing) return;
      if (event.key === "ArrowUp" || event.key === "ArrowDown") {
        this.#recall(event);
        return;
      }
      if (event.key !== "Enter" || event.shiftKey) return;
      event.preventDefault();
      this.#submitLine();
    });
    const messages = element("messages");
    messages.addEventListener("scroll", () => {
      if (messages.scrollTop < LOAD_OLDER_MARGIN_PX) this.#loadOlder();
    });
    element("older").addEventListener("click", () => this.#loadOlder());
    element("members-more").addEventListener(
      "click",
      () => this.#moreMembers(),
    );
    this.connection.connect();
  }

  // -- connection ------------------------------------------------------------

  #opened(): void {
    this.#stopCountdown();
    this.#byeSeen = false;
    this.#byeReason = "";
    this.#status("connected", "Connected");
    if (this.#login !== null) this.#sendHello();
  }

  #closed(retryInMs: number | null): void {
    this.#stopCountdown();
    clearInterval(this.#roomsTimer);
    this.#returnUnsent();
    const wasIn = this.#loggedIn;
    this.#loggedIn = false;
    if (wasIn) {
      if (!this.#byeSeen) this.#notice("Connection lost", "error");
      for (const conversation of this.model.conversations.values()) {
        if (conversation.kind === "room") {
          this.#resumeFrom.set(
            conversation.key,
            this.model.newestId(conversation),
          );
        }
      }
    }
    if (retryInMs === null) {
      this.#status("disconnected", "Disconnected");
      if (wasIn) this.#backToForm();
      return;
    }
    // The status counts down each second to the attempt; the timer stops
    // when the socket opens or closes again.
    const attemptAt = Date.now() + retryInMs;
    const show = () => {
      const seconds = Math.ceil((attemptAt - Date.now()) / 1000);
      if (seconds <= 0) {
        this.#stopCountdown();
        this.#status("disconnected", "Disconnected; reconnecting…");
        return;
      }
      this.#status(
        "disconnected",
        `Disconnected; reconnecting in ${seconds} s`,
      );
    };
    show();
    this.#countdownTimer = setInterval(show, 1000);
  }

  #stopCountdown(): void {
    clearInterval(this.#countdownTimer);
    this.#countdownTimer = undefined;
  }

  /**
   * After a goodbye that is not undone by reconnecting (quit, kicked,
   * banned, taken over), the form comes back saying why, with the
   * nickname in it: Enter joins again, as that name or another.
   */
  #backToForm(): void {
    element("login-error").textContent = this.#byeReason === ""
      ? "Disconnected: press Enter to join again"
      : `Disconnected: ${this.#byeReason}. Press Enter to join again`;
    const nick = element<HTMLInputElement>("nick");
    nick.value = this.model.me ?? nick.value;
    element("login").hidden = false;
    element("chat").hidden = true;
    nick.focus();
  }

  #status(state: string, text: string): void {
    const status = element("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  /** Sends at once, counting it against the pace typed lines keep. */
  #send(request: ClientRequest): boolean {
    if (!this.connection.send(request)) return false;
    this.#pacer?.take(Date.now(), requestBytes(request));
    // A /who more typed before this page comes goes on from it.
    if (request.type === "who") this.model.whoAsked();
    return true;
  }

  #sendHello(): void {
    const login = this.#login!;
    const room = this.model.currentRoom === null
      ? login.room
      : this.model.conversations.get(this.model.currentRoom)?.name ??
        login.room;
    const hello: ClientRequest = {
      type: "hello",
      nick: this.model.me ?? login.nick,
      // The page is typed into: the server's hints name slash commands
      // (`/quit`), not the request types the page turns them into.
      hints: "commands",
      ref: "login",
    };
    if (room !== "") hello.room = room;
    if (login.password !== undefined) hello.password = login.password;
    if (login.identify !== undefined) hello.identify = login.identify;
    this.#send(hello);
  }

  // -- login -------------------------------------------------------------------

  #submitLogin(): void {
    const value = (id: string) => element<HTMLInputElement>(id).value;
    const login: Login = {
      nick: value("nick").trim(),
      room: value("room").trim(),
    };
    // An empty field is not a password: left out, the server asks again
    // instead of counting a wrong one.
    if (!element("server-password-row").hidden && value("server-password")) {
      login.password = value("server-password");
    }
    if (!element("nick-password-row").hidden && value("nick-password")) {
      login.identify = value("nick-password");
    }
    this.#login = login;
    // The name typed now is the one wanted, not the last one held.
    this.model.me = null;
    element("login-error").textContent = "";
    if (this.connection.open) this.#sendHello();
    // After a goodbye that stopped the connection (too many wrong
    // passwords), a new try opens it again.
    else this.connection.reopen();
  }

  /**
   * The server refused a login: the form says why in the page's words
   * (the server's speak of commands typed once logged in) and puts the
   * cursor in the field to fix.
   */
  #loginFailed(event: ServerEvent & { type: "error" }): void {
    let field = "nick";
    let text = event.message;
    if (event.code === "bad_password" && event.password === "nickname") {
      field = "nick-password";
    } else if (event.code === "bad_password") {
      element("server-password-row").hidden = false;
      if (this.#login?.password === undefined) {
        text = "This server needs a password: enter it below";
      }
      field = "server-password";
    } else if (event.code === "nick_registered") {
      // Sent only to a hello without a password for the nickname.
      element("nick-password-row").hidden = false;
      text =
        `${this.#login?.nick} is a registered nickname: enter its password below, or choose another nickname`;
      field = "nick-password";
    }
    element("login-error").textContent = text;
    // A failed automatic login after a reconnect goes back to the form.
    this.#loggedIn = false;
    element("login").hidden = false;
    element("chat").hidden = true;
    const input = element<HTMLInputElement>(field);
    input.focus();
    input.select();
  }

  // -- events ------------------------------------------------------------------

  #event(event: ServerEvent): void {
    const model = this.model;
    switch (event.type) {
      case "welcome":
        model.me = event.nick;
        this.#loggedIn = true;
        this.#quitting = false;
        if (this.#wasLoggedIn) this.#reconnected(event.nick);
        this.#wasLoggedIn = true;
        this.#maxLine = event.maxLine ?? DEFAULT_MAX_LINE_BYTES;
        {
          const pace = announcedPace(event);
          this.#pacer = pace === null ? null : new SendPacer(pace, Date.now());
        }
        this.connection.welcomed();
        model.whoReconnected();
        this.#status("connected", `Connected as ${event.nick}`);
        element("login").hidden = true;
        element("chat").hidden = false;
        element("input").focus();
        this.#send({ type: "rooms" });
        this.#rejoin();
        this.#resumePrivate();
        clearInterval(this.#roomsTimer);
        this.#roomsTimer = setInterval(
          () => this.#send({ type: "rooms" }),
          ROOMS_REFRESH_MS,
        );
        return;
      case "message":
      case "action":
        this.#live(
          model.roomMessage(event),
          conversationKey("room", event.room),
        );
        return;
      case "private":
        this.#private(event);
        return;
      case "join":
        this.#joined(event.room, event.nick);
        return;
      case "leave": {
        if (event.nick === model.me && event.reason === "part") {
          model.joined.delete(conversationKey("room", event.room));
        }
        this.#refetchMembers(
          event.room,
          event.reason === "part"
            ? model.memberChange(event.room, {
              kind: "leave",
              nick: event.nick,
            })
            : model.leftEverywhere(event.nick, event.room, event.reason),
        );
        const why = event.message ? `: ${event.message}` : "";
        this.#roomNotice(
          event.room,
          `${event.nick} left ${event.room} (${event.reason}${why})`,
        );
        return;
      }
      case "nick":
        if (event.old === model.me) {
          model.me = event.nick;
          this.#status("connected", `Connected as ${event.nick}`);
        }
        model.memberChange(event.room, {
          kind: "nick",
          old: event.old,
          nick: event.nick,
        });
        this.#roomNotice(event.room, `${event.old} is now ${event.nick}`);
        return;
      case "away":
        model.memberChange(event.room, {
          kind: "away",
          nick: event.nick,
          reason: event.reason,
        });
        this.#roomNotice(
          event.room,
          `${event.nick} is away${event.reason ? `: ${event.reason}` : ""}`,
        );
        return;
      case "back":
        model.memberChange(event.room, { kind: "back", nick: event.nick });
        this.#roomNotice(event.room, `${event.nick} is back`);
        return;
      case "switch":
        this.#current(event.room);
        return;
      case "rooms":
        model.listRooms(event.rooms);
        if (event.ref === TYPED_REF) {
          this.#notice(
            event.rooms.length === 0
              ? "No rooms"
              : `Rooms: ${
                event.rooms.map((room) => `${room.name} (${room.members})`)
                  .join(", ")
              }`,
          );
        }
        this.#renderLists();
        return;
      case "who":
        this.#who(event);
        return;
      case "members":
        model.memberTotal(event.room, event.count);
        this.#renderMembers();
        return;
      case "count":
        model.roomCount(event.room, event.count);
        this.#renderMembers();
        this.#renderLists();
        return;
      case "history":
        this.#history(
          model.conversation("room", event.room),
          event.messages,
          event.ref,
          event.more === true,
        );
        return;
      case "conversation":
        this.#history(
          model.conversation("private", event.with),
          event.messages,
          event.ref,
          event.more === true,
        );
        return;
      case "topic": {
        const conversation = model.conversation("room", event.room);
        conversation.topic = event.topic;
        if (event.ref === TYPED_REF || event.ts !== undefined) {
          this.#roomNotice(
            event.room,
            event.topic === ""
              ? `${event.room} has no topic`
              : `Topic of ${event.room}: ${event.topic}${
                event.by ? ` (set by ${event.by})` : ""
              }`,
          );
        }
        this.#renderHeading();
        return;
      }
      case "help":
        for (const command of event.commands) {
          this.#notice(
            `${command.usage}: ${command.summary}${
              command.operator ? " (operators)" : ""
            }`,
          );
        }
        return;
      case "motd":
        for (const line of event.lines) this.#notice(line);
        return;
      case "bans":
        this.#notice(
          event.bans.length === 0
            ? "No bans"
            : `Bans: ${
              event.bans.map((ban) =>
                `${ban.address}${ban.nick ? ` (${ban.nick})` : ""}`
              ).join(", ")
            }`,
        );
        return;
      case "notice":
        // Before the welcome, the server greets as it greets nc ("Choose a
        // nickname"): the form does that here, and after a reconnection the
        // greeting would land in the conversation on screen.
        if (this.#loggedIn) this.#notice(event.text);
        return;
      case "error":
        if (answersWho(event.ref)) {
          // A /who more waiting for this answer goes on.
          this.model.whoAnswered();
          this.#notice(event.message, "error");
          this.#flushOutbox();
          return;
        }
        if (event.ref === RESUME_REF) {
          // Private history after a reconnection is kept only for
          // registered nicknames: without one there is nothing to fetch,
          // and nothing to tell.
          return;
        }
        if (!this.#loggedIn && event.ref === "login") {
          this.#loginFailed(event);
        } else if (!this.#loggedIn) {
          element("login-error").textContent = event.message;
        } else if (conversationOfRef(event.ref) !== null) {
          // A private message refused: said where it was written.
          this.model.notice(
            event.message,
            "error",
            conversationOfRef(event.ref)!,
          );
          this.#render();
        } else {
          this.#notice(event.message, "error");
        }
        return;
      case "pong":
        this.#notice(`Pong${event.token ? ` ${event.token}` : ""}`);
        return;
      case "ping":
        this.#send({ type: "pong", token: event.token });
        return;
      case "bye":
        this.#byeSeen = true;
        this.#byeReason = event.reason;
        this.#notice(`Disconnected: ${event.reason}`, "error");
        if (!this.#loggedIn) element("login-error").textContent = event.reason;
        // A kick, a ban or a takeover is not undone by coming back.
        if (this.#quitting || !byeMeansReconnect(event.code)) {
          this.connection.stop();
        }
        return;
    }
  }

  #joined(room: string, nick: string): void {
    const model = this.model;
    const key = conversationKey("room", room);
    if (nick === model.me) {
      model.joined.add(key);
      model.conversation("room", room).name = room;
      this.#current(room);
      this.#send({ type: "rooms" });
    }
    this.#refetchMembers(
      room,
      model.memberChange(room, { kind: "join", nick }),
    );
    this.#roomNotice(room, `${nick} joined ${room}`);
    this.#renderLists();
  }

  /** The server moved our current room: the page follows it. */
  #current(room: string): void {
    const model = this.model;
    const key = conversationKey("room", room);
    const previous = model.currentRoom;
    model.currentRoom = key;
    if (
      model.active === null || model.active === previous ||
      this.#switchingTo === key
    ) {
      model.activate(key);
    }
    this.#switchingTo = null;
    this.#render();
  }

  #private(message: PrivateMessage): void {
    const added = this.model.privateMessage(message);
    const other = message.from === this.model.me ? message.to : message.from;
    this.#live(added, conversationKey("private", other));
  }

  /**
   * A page of members: a join's list, a typed `/who` (shown as a notice),
   * or the next page `/who more`, `/who #room after NICK` or the "More
   * members" button asked for. Nothing asks for the following page by
   * itself: a room of ten thousand is a hundred pages, fetched only as the
   * person asks.
   */
  #who(event: ServerEvent & { type: "who" }): void {
    const { typed, after } = whoPageRole(event.ref);
    let listed = true;
    if (event.ref === undefined) this.model.joinList(event.room, event);
    else listed = this.model.members(event.room, event, after);
    if (typed) {
      this.model.lastWhoRoom = event.room;
      this.#notice(whoNotice(event, listed));
    }
    this.#renderMembers();
    if (answersWho(event.ref)) {
      // A /who more waiting for this page goes on from it.
      this.model.whoAnswered();
      this.#flushOutbox();
    }
  }

  /**
   * Fetches `room`'s member list again when a join or leave it announces
   * shows it is back under the big-room size (ChatModel.memberChange), if
   * the server's flood budget has room for the request now. If not, the
   * room stays marked as big and its next announced join or leave tries
   * again: a room going in and out of the size spends no budget that typed
   * lines need.
   */
  #refetchMembers(room: string, request: ClientRequest | null): void {
    if (request === null) return;
    const wait = this.#pacer?.wait(Date.now(), requestBytes(request)) ?? 0;
    if (wait === 0 && this.#send(request)) return;
    this.model.conversation("room", room).quiet = true;
  }

  /** The member list's next page, for the "More members" button. */
  #moreMembers(): void {
    const key = this.#membersKey();
    const conversation = key === null
      ? undefined
      : this.model.conversations.get(key);
    if (conversation === undefined) return;
    const request = moreMembersRequest(conversation);
    if (request !== null) this.#send(request);
  }

  /**
   * History arrived: on a join, the replay; after a reconnect, the replay
   * is checked for a gap, filled by paging back; on a scroll up, a page of
   * older messages.
   */
  #history(
    conversation: Conversation,
    messages: Array<RoomMessage | PrivateMessage>,
    ref: string | undefined,
    more: boolean,
  ): void {
    const list = element("messages");
    const fromBottom = list.scrollHeight - list.scrollTop;
    this.model.mergeHistory(conversation, messages);
    const oldest = messages[0]?.id;
    if (ref === "older") {
      conversation.loadingOlder = false;
      if (!more) conversation.historyDone = true;
    } else if (ref === TYPED_REF) {
      // Shown in place like any other history.
    } else if (ref === "gap" || (ref === undefined && messages.length > 0)) {
      const since = this.#resumeFrom.get(conversation.key);
      if (since !== undefined && oldest !== undefined && oldest > since + 1) {
        if (more) {
          this.#send({
            type: "history",
            room: conversation.name,
            before: oldest,
            limit: GAP_PAGE,
            ref: "gap",
          });
          this.#render(fromBottom);
          return;
        }
      }
      this.#resumeFrom.delete(conversation.key);
    } else if (ref === undefined) {
      this.#resumeFrom.delete(conversation.key);
    }
    this.#render(fromBottom);
  }

  /**
   * After a reconnect the hello brought back the current room; the other
   * rooms we were in are joined again, and the current one made current.
   */
  #rejoin(): void {
    const model = this.model;
    const current = model.currentRoom;
    const others = [...model.joined].filter((key) => key !== current);
    model.joined.clear();
    if (current !== null) model.joined.add(current);
    for (const key of others) {
      const room = model.conversations.get(key);
      if (room !== undefined) this.#send({ type: "join", room: room.name });
    }
    if (others.length > 0 && current !== null) {
      const room = model.conversations.get(current);
      if (room !== undefined) this.#send({ type: "switch", room: room.name });
    }
  }

  /** Says in the conversation on screen that the chat is back. */
  #reconnected(nick: string): void {
    const rooms = [...this.model.joined].map((key) =>
      this.model.conversations.get(key)?.name ?? key
    );
    this.#notice(
      rooms.length === 0
        ? `Reconnected as ${nick}`
        : `Reconnected as ${nick}; back in ${rooms.join(", ")}`,
    );
  }

  /** After a reconnect, private conversations fetch what they missed. */
  #resumePrivate(): void {
    for (const conversation of this.model.conversations.values()) {
      if (conversation.kind !== "private") continue;
      this.#send({
        type: "history",
        with: conversation.name,
        limit: GAP_PAGE,
        ref: RESUME_REF,
      });
    }
  }

  #loadOlder(): void {
    const key = this.model.active;
    if (key === null) return;
    const conversation = this.model.conversations.get(key);
    if (
      conversation === undefined || conversation.historyDone ||
      conversation.loadingOlder || !this.#loggedIn
    ) {
      return;
    }
    const before = this.model.oldestId(conversation);
    const request: ClientRequest = conversation.kind === "room"
      ? { type: "history", room: conversation.name, limit: OLDER_PAGE }
      : { type: "history", with: conversation.name, limit: OLDER_PAGE };
    if (before !== null) request.before = before;
    request.ref = "older";
    conversation.loadingOlder = true;
    this.#send(request);
  }

  #live(added: boolean, key: string): void {
    if (!added) return;
    if (key === this.model.active) this.#render();
    else this.#renderLists();
  }

  #notice(text: string, kind: "notice" | "error" = "notice"): void {
    this.model.notice(text, kind);
    this.#render();
  }

  #roomNotice(room: string, text: string): void {
    this.model.notice(text, "notice", conversationKey("room", room));
    this.#render();
  }

  // -- input -------------------------------------------------------------------

  /**
   * Sends what the box holds: one line as typed in `nc` (a command, or a
   * message to the conversation on screen), several lines as messages, one
   * each. Nothing goes and the text stays when it cannot: a line too long
   * for the server, a typing error, no connection.
   */
  #submitLine(): void {
    const input = element<HTMLTextAreaElement>("input");
    const lines = filledLines(input.value);
    if (lines.length === 0) return;
    const outgoing = lines.length === 1
      ? this.#typed(lines[0]!)
      : this.#pasted(lines);
    if (outgoing === null) return;
    const refusal = tooLong(
      outgoing.map((entry) => entry.request),
      this.#maxLine,
    );
    if (refusal !== null) {
      this.#notice(refusal, "error");
      return;
    }
    if (!this.connection.open) {
      this.#notice("Not connected: nothing was sent", "error");
      return;
    }
    if (outgoing.some((entry) => entry.request.type === "quit")) {
      this.#quitting = true;
    }
    this.#sent.add(input.value);
    input.value = "";
    this.#outbox.push(...outgoing);
    this.#flushOutbox();
    if (this.#outbox.length > 0 && outgoing.length > 1) {
      this.#notice(
        `Sending ${this.#outbox.length} more lines at the server's pace`,
      );
    }
  }

  /**
   * Up/Down in the box: on its first line (Up) or last line (Down), with
   * nothing selected, it recalls a sent line; elsewhere the caret moves.
   */
  #recall(event: KeyboardEvent): void {
    if (event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    const input = element<HTMLTextAreaElement>("input");
    const { value, selectionStart, selectionEnd } = input;
    if (selectionStart !== selectionEnd) return;
    const up = event.key === "ArrowUp";
    const onEdge = up
      ? !value.slice(0, selectionStart).includes("\n")
      : !value.slice(selectionEnd).includes("\n");
    if (!onEdge) return;
    const line = up ? this.#sent.up(value) : this.#sent.down();
    if (line === null) return;
    event.preventDefault();
    input.value = line;
    input.setSelectionRange(line.length, line.length);
  }

  /** One typed line's request, or null (and why, on screen). */
  #typed(line: string): Outgoing[] | null {
    const active = this.model.active === null
      ? undefined
      : this.model.conversations.get(this.model.active);
    let request: ClientRequest | null;
    if (
      active?.kind === "private" &&
      (!line.startsWith("/") || line.startsWith("//"))
    ) {
      request = {
        type: "private",
        to: active.name,
        text: line.startsWith("//") ? line.slice(1) : line,
        // A refusal (the name has a new holder) is shown in this conversation.
        ref: privateRef(active.name),
      };
    } else if (isWhoMore(line)) {
      // Which page it asks for is decided in its turn (#flushOutbox).
      return [{ request: { type: "who" }, typed: line, whoMore: true }];
    } else {
      const decoded = decodeTextRequest(line);
      if (decoded === null) return null;
      if (decoded.type === "error") {
        this.#notice(decoded.message, "error");
        return null;
      }
      request = decoded;
      if (
        active?.kind === "room" &&
        (request.type === "message" || request.type === "action" ||
          request.type === "topic") &&
        request.room === undefined
      ) {
        // Said in the room on screen, which may not be the current one.
        request.room = active.name;
      }
      request.ref = typedRef(request);
    }
    return [{ request, typed: line }];
  }

  /** A paste's lines as messages to the conversation on screen. */
  #pasted(lines: string[]): Outgoing[] | null {
    const active = this.model.active === null
      ? undefined
      : this.model.conversations.get(this.model.active);
    if (active === undefined) {
      this.#notice("Open a room or a conversation first", "error");
      return null;
    }
    return pastedRequests(lines, active, privateRef).map((request, index) => ({
      request,
      typed: lines[index]!,
    }));
  }

  /**
   * Sends what waits in the outbox, as fast as the server's flood budget
   * allows: past its burst, a paste goes out at its rate instead of piling
   * up at the server, which holds lines that come faster and disconnects a
   * client whose lines wait too long.
   */
  #flushOutbox(): void {
    clearTimeout(this.#outboxTimer);
    this.#outboxTimer = undefined;
    while (this.#outbox.length > 0) {
      const next = this.#outbox[0]!;
      if (next.whoMore) {
        // It goes on from the page before it: the answer to every who
        // asked before it flushes again.
        const more = this.model.whoMore();
        if (more === null) return;
        if (more.type === "error") {
          this.#outbox.shift();
          this.#notice(more.message, "error");
          continue;
        }
        next.request = more;
        delete next.whoMore;
      }
      const wait = this.#pacer?.wait(
        Date.now(),
        requestBytes(next.request),
      ) ?? 0;
      if (wait > 0) {
        this.#outboxTimer = setTimeout(() => this.#flushOutbox(), wait);
        return;
      }
      // Not open: the close puts the rest back in the box.
      if (!this.#send(next.request)) return;
      this.#outbox.shift();
    }
  }

  /** Lines the connection's end kept from leaving go back in the box. */
  #returnUnsent(): void {
    clearTimeout(this.#outboxTimer);
    this.#outboxTimer = undefined;
    if (this.#outbox.length === 0) return;
    const input = element<HTMLTextAreaElement>("input");
    const unsent = this.#outbox.map((entry) => entry.typed);
    this.#outbox = [];
    input.value = [...unsent, input.value].filter((text) => text !== "")
      .join("\n");
    this.#notice(
      `${unsent.length} lines were not sent before the connection closed; they are back in the message box`,
      "error",
    );
  }

  #switchTo(conversation: Conversation): void {
    const model = this.model;
    model.activate(conversation.key);
    if (
      conversation.kind === "room" && conversation.key !== model.currentRoom
    ) {
      // A room we are in becomes current; another one is joined.
      this.#switchingTo = conversation.key;
      this.#send({
        type: model.joined.has(conversation.key) ? "switch" : "join",
        room: conversation.name,
      });
    }
    this.#render();
    element("input").focus();
  }

  // -- rendering ---------------------------------------------------------------

  /** Redraws what changed; `fromBottom` keeps the view still under history. */
  #render(fromBottom?: number): void {
    this.#renderMessages(fromBottom);
    this.#renderHeading();
    this.#renderLists();
    this.#renderMembers();
  }

  #renderMessages(fromBottom?: number): void {
    const list = element("messages");
    const key = this.model.active;
    const conversation = key === null
      ? undefined
      : this.model.conversations.get(key);
    const lines = conversation?.lines ?? [];
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight <
      LOAD_OLDER_MARGIN_PX;
    const shown = this.#shown;
    const appendOnly = key === this.#shownKey && lines.length >= shown.length &&
      shown.every((line, index) => lines[index] === line);
    if (appendOnly) {
      for (const line of lines.slice(shown.length)) {
        list.append(lineElement(line));
      }
    } else {
      list.setAttribute("aria-busy", "true");
      list.replaceChildren(...lines.map(lineElement));
      list.setAttribute("aria-busy", "false");
    }
    this.#shown = [...lines];
    this.#shownKey = key;
    if (fromBottom !== undefined && !atBottom) {
      list.scrollTop = list.scrollHeight - fromBottom;
    } else if (atBottom || !appendOnly) {
      list.scrollTop = list.scrollHeight;
    }
    element("older").hidden = conversation === undefined ||
      conversation.historyDone;
    // Nothing to scroll yet: older messages fill the view, as a scroll would.
    if (
      conversation !== undefined && !conversation.historyDone &&
      list.scrollHeight <= list.clientHeight && lines.length > 0
    ) {
      this.#loadOlder();
    }
  }

  #renderHeading(): void {
    const key = this.model.active;
    const conversation = key === null
      ? undefined
      : this.model.conversations.get(key);
    element("title").textContent = conversation === undefined
      ? ""
      : conversation.kind === "room"
      ? conversation.name
      : `Private: ${conversation.name}`;
    element("topic").textContent = conversation?.topic ?? "";
  }

  #renderLists(): void {
    const model = this.model;
    const rooms = new Map<string, { name: string; count?: number }>();
    for (const room of model.rooms) {
      rooms.set(conversationKey("room", room.name), {
        name: room.name,
        count: room.members,
      });
    }
    for (const conversation of model.conversations.values()) {
      if (conversation.kind === "room" && !rooms.has(conversation.key)) {
        rooms.set(conversation.key, { name: conversation.name });
      }
    }
    const roomItems = [...rooms.entries()].sort(([a], [b]) => a < b ? -1 : 1)
      .map(([key, room]) => {
        const conversation = model.conversation("room", room.name);
        const joined = model.joined.has(key);
        // In a room we are in, joins and leaves keep the member list held
        // current, and a big room's count comes as it changes; the
        // server's room list is only asked for now and then.
        const count = !joined ? room.count : conversation.memberCount ??
          (conversation.members.size > 0
            ? conversation.members.size
            : room.count);
        return this.#listItem(
          conversation,
          count === undefined ? room.name : `${room.name} (${count})`,
          joined,
        );
      });
    element("rooms").replaceChildren(...roomItems);
    const privates = [...model.conversations.values()].filter((c) =>
      c.kind === "private"
    ).map((conversation) =>
      this.#listItem(conversation, conversation.name, false)
    );
    element("privates").replaceChildren(...privates);
    const unread = [...model.conversations.values()].reduce(
      (sum, conversation) => sum + conversation.unread,
      0,
    );
    document.title = unread === 0 ? "tern" : `(${unread}) tern`;
  }

  #listItem(
    conversation: Conversation,
    label: string,
    joined: boolean,
  ): HTMLLIElement {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "conversation-button";
    button.dataset.key = conversation.key;
    const name = document.createElement("span");
    name.textContent = label;
    button.append(name);
    if (conversation.unread > 0) {
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.textContent = String(conversation.unread);
      badge.setAttribute("aria-label", `${conversation.unread} unread`);
      button.append(badge);
    }
    if (conversation.key === this.model.active) {
      button.setAttribute("aria-current", "true");
    }
    if (joined) button.classList.add("joined");
    button.addEventListener("click", () => this.#switchTo(conversation));
    item.append(button);
    return item;
  }

  /** The room whose members are shown: the one on screen, else the current. */
  #membersKey(): string | null {
    const active = this.model.active;
    return active !== null && !active.startsWith("@")
      ? active
      : this.model.currentRoom;
  }

  #renderMembers(): void {
    const key = this.#membersKey();
    const conversation = key === null
      ? undefined
      : this.model.conversations.get(key);
    const list = element("members");
    const more = element<HTMLButtonElement>("members-more");
    if (conversation === undefined) {
      list.replaceChildren();
      more.hidden = true;
      return;
    }
    more.hidden = conversation.membersNext === null;
    more.textContent = conversation.members.size === 0
      ? "List members"
      : "More members";
    // In the server's order, the order its pages come in.
    const nicks = [...conversation.members.entries()].sort(([a], [b]) =>
      foldKey(a) < foldKey(b) ? -1 : 1
    );
    element("members-title").textContent = conversation.memberCount !== null
      ? `Members: ${conversation.memberCount}`
      : `Members (${nicks.length})`;
    list.replaceChildren(...nicks.map(([nick, away]) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = `member nick-${nickColor(nick, NICK_COLORS)}`;
      button.textContent = nick;
      button.title = `Private conversation with ${nick}`;
      if (away !== null) {
        item.classList.add("away");
        const mark = document.createElement("span");
        mark.className = "away-mark";
        mark.textContent = away === "" ? " (away)" : ` (away: ${away})`;
        button.append(mark);
      }
      button.addEventListener("click", () => {
        if (nick === this.model.me) return;
        this.#switchTo(this.model.conversation("private", nick));
      });
      item.append(button);
      return item;
    }));
  }
}

/**
 * One line as a list item; every text goes in as text (`textContent`, text
 * nodes), web addresses as links built by property.
 */
function lineElement(line: ChatLine): HTMLLIElement {
  const item = document.createElement("li");
  item.className = `line ${line.kind}`;
  if (line.id !== undefined) item.dataset.id = String(line.id);
  const time = document.createElement("time");
  const date = new Date(line.ts);
  time.dateTime = date.toISOString();
  time.textContent = date.toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  item.append(time, " ");
  if (line.from !== undefined) {
    const from = document.createElement("span");
    from.className = `from nick-${nickColor(line.from, NICK_COLORS)}`;
    from.textContent = line.kind === "action" ? `* ${line.from}` : line.from;
    item.append(from, " ");
  }
  const text = document.createElement("span");
  text.className = "text";
  for (const part of linkParts(line.text)) {
    if (part.href === undefined) {
      text.append(part.text);
      continue;
    }
    // An http(s) address only, set as a property: never markup, never a
    // script URL. It opens apart from the chat, which learns nothing back.
    const link = document.createElement("a");
    link.href = part.href;
    link.textContent = part.text;
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
    text.append(link);
  }
  item.append(text);
  return item;
}

new ChatPage();
