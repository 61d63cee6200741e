// wire/framing.ts
var DEFAULT_MAX_LINE_BYTES = 4096;
var LF = 10;
var CR = 13;
var IAC = 255;
var SB = 250;
var SE = 240;
var WILL = 251;
var DO = 253;
var IP = 244;
var TIMING_MARK = 6;
var MAX_SUBNEGOTIATION = 64;
var SUBNEGOTIATED = /* @__PURE__ */ new Set([
  5,
  24,
  31,
  32,
  33,
  34,
  35,
  36,
  37,
  38,
  39,
  42,
  44
]);
var TelnetFilter = class {
  #state = "text";
  #subBytes = 0;
  /** The verb (WILL, WONT, DO, DONT) whose option comes next. */
  #verb = 0;
  /** Whether an Interrupt Process has come since {@linkcode take}. */
  interrupted = false;
  /** Whether a DO TIMING-MARK has come since {@linkcode take}. */
  timingMarkAsked = false;
  /** The Ctrl-C seen since the last call, as a frame; null if none. */
  take() {
    if (!this.interrupted && !this.timingMarkAsked) return null;
    const frame = {
      kind: "telnet",
      interrupt: this.interrupted,
      timingMark: this.timingMarkAsked
    };
    this.interrupted = false;
    this.timingMarkAsked = false;
    return frame;
  }
  /** The bytes of `chunk` that are not telnet commands (`chunk` itself if none). */
  filter(chunk) {
    if (this.#state === "text" && chunk.indexOf(IAC) === -1) return chunk;
    const kept = new Uint8Array(chunk.length);
    let length = 0;
    for (const byte of chunk) {
      if (this.#state.startsWith("sub") && this.#subBytes >= MAX_SUBNEGOTIATION) {
        this.#state = "text";
      }
      switch (this.#state) {
        case "text":
          if (byte === IAC) this.#state = "iac";
          else kept[length++] = byte;
          break;
        case "iac":
          if (byte === SB) {
            this.#state = "sub_option";
          } else if (byte >= WILL && byte !== IAC) {
            this.#state = "option";
            this.#verb = byte;
          } else if (byte === IP) {
            this.interrupted = true;
            this.#state = "text";
          } else {
            if (byte < SE) kept[length++] = byte;
            this.#state = "text";
          }
          break;
        case "sub_option":
          if (SUBNEGOTIATED.has(byte)) {
            this.#state = "sub";
            this.#subBytes = 1;
          } else if (byte === IAC) {
            this.#state = "iac";
          } else {
            kept[length++] = byte;
            this.#state = "text";
          }
          break;
        case "option":
          if (this.#verb === DO && byte === TIMING_MARK) {
            this.timingMarkAsked = true;
          }
          this.#state = "text";
          break;
        case "sub":
        case "sub_iac": {
          const ends = this.#state === "sub_iac" && byte === SE;
          this.#state = byte === IAC && this.#state === "sub" ? "sub_iac" : "sub";
          this.#subBytes++;
          if (ends) this.#state = "text";
          break;
        }
      }
    }
    return kept.subarray(0, length);
  }
};
var LineFramer = class _LineFramer {
  /** Longest accepted line in bytes, without its newline. */
  maxLineBytes;
  #pending = null;
  #pendingLength = 0;
  #discarding = false;
  /** Bytes dropped since {@linkcode LineFramer.takeSkippedBytes} last ran. */
  #skipped = 0;
  /** Made at the first telnet command: most peers never send one. */
  #telnet = null;
  static #decoder = new TextDecoder("utf-8", {
    ignoreBOM: false
  });
  /**
   * A framer with nothing pending.
   *
   * @param maxLineBytes longest accepted line, without its newline
   */
  constructor(maxLineBytes = DEFAULT_MAX_LINE_BYTES) {
    this.maxLineBytes = maxLineBytes;
  }
  /** Bytes held for an unfinished line; bounded by `maxLineBytes`. */
  get bufferedBytes() {
    return this.#pendingLength;
  }
  /**
   * Feeds one chunk read from the peer; returns the frames it completes.
   * Telnet commands in it are dropped first ({@linkcode TelnetFilter}).
   */
  push(read) {
    if (this.#telnet === null && read.indexOf(IAC) !== -1) {
      this.#telnet = new TelnetFilter();
    }
    const chunk = this.#telnet === null ? read : this.#telnet.filter(read);
    this.#skipped += read.length - chunk.length;
    const frames = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(LF, start);
      const end = newline === -1 ? chunk.length : newline;
      if (this.#discarding) {
        this.#skipped += end - start;
        if (newline !== -1) this.#discarding = false;
      } else if (this.#pendingLength + (end - start) > this.maxLineBytes + 1) {
        this.#skipped += this.#pendingLength + (end - start) - this.maxLineBytes;
        this.#dropPending();
        frames.push({
          kind: "too_long",
          limit: this.maxLineBytes
        });
        if (newline === -1) this.#discarding = true;
      } else if (newline === -1) {
        this.#append(chunk.subarray(start, end));
      } else {
        const line2 = this.#takeLine(chunk.subarray(start, end));
        if (line2 === null) {
          frames.push({
            kind: "too_long",
            limit: this.maxLineBytes
          });
        } else {
          frames.push({
            kind: "line",
            text: line2
          });
        }
      }
      start = newline === -1 ? chunk.length : newline + 1;
    }
    const telnet = this.#telnet?.take() ?? null;
    if (telnet !== null) frames.push(telnet);
    return frames;
  }
  /**
   * Bytes dropped since the last call beyond what `too_long` frames stand
   * for (`maxLineBytes` each): the rest of a line past the limit, and
   * telnet commands; counting starts again. They
   * cost a reader as much as a line's bytes do, so whoever reads lines
   * counts them too: otherwise input that never ends a line would be free.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LineFramer } from "../protocol.ts";
   * const framer = new LineFramer(4);
   * const bytes = new TextEncoder().encode("0123456789\nok\n");
   * assert.deepEqual(framer.push(bytes), [
   *   { kind: "too_long", limit: 4 },
   *   { kind: "line", text: "ok" },
   * ]);
   * assert.equal(framer.takeSkippedBytes(), 6); // the frame stands for 4
   * assert.equal(framer.takeSkippedBytes(), 0);
   * ```
   */
  takeSkippedBytes() {
    const skipped = this.#skipped;
    this.#skipped = 0;
    return skipped;
  }
  /**
   * Ends the stream: a final line without a newline is still delivered, as a
   * pipe into `nc` often omits the last newline.
   */
  end() {
    if (this.#discarding || this.#pendingLength === 0) {
      this.#discarding = false;
      this.#dropPending();
      return [];
    }
    const line2 = this.#takeLine(new Uint8Array(0));
    return line2 === null ? [] : [
      {
        kind: "line",
        text: line2
      }
    ];
  }
  #append(bytes) {
    if (bytes.length === 0) return;
    this.#pending ??= new Uint8Array(this.maxLineBytes + 1);
    this.#pending.set(bytes, this.#pendingLength);
    this.#pendingLength += bytes.length;
  }
  /** Joins the pending bytes with `tail`, strips one trailing CR, decodes. */
  #takeLine(tail) {
    let bytes = tail;
    if (this.#pendingLength > 0 && this.#pending) {
      this.#append(tail);
      bytes = this.#pending.subarray(0, this.#pendingLength);
    }
    let length = bytes.length;
    if (length > 0 && bytes[length - 1] === CR) length--;
    const text = length > this.maxLineBytes ? null : _LineFramer.#decoder.decode(bytes.subarray(0, length));
    this.#dropPending();
    return text;
  }
  #dropPending() {
    this.#pendingLength = 0;
    this.#pending = null;
  }
};
var ESCAPE_SEQUENCE = /\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?|\x1b[ -~]?/g;
var CONTROL_WHITESPACE = /[\t\n\v\f\r\u0085\u2028\u2029]/g;
var INVISIBLE_CONTROLS = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufff9-\ufffb]/gu;
function printableText(text) {
  return text.toWellFormed().replace(ESCAPE_SEQUENCE, "").replace(CONTROL_WHITESPACE, " ").replace(INVISIBLE_CONTROLS, "");
}
var NO_COLUMN = String.raw`\p{M}\u200c\u200d\ufe00-\ufe0f\u180b-\u180d\u180f\u{e0100}-\u{e01ef}`;
var BLANK_RUN = new RegExp(String.raw`[\u200c\u200d]*[\s\u2800][\s\u2800${NO_COLUMN}]*[\s\u2800][${NO_COLUMN}]*`, "gu");
var MAX_MARKS_PER_CHARACTER = 6;
var MANY_MARKS = new RegExp(`\\p{M}(?:[\\p{M}\\p{Cf}]*\\p{M}){${MAX_MARKS_PER_CHARACTER}}`, "u");

// wire/events.ts
var LOBBY = "#lobby";
function errorEvent(code, message, ref) {
  const words = printableText(message);
  return ref === void 0 ? {
    type: "error",
    code,
    message: words
  } : {
    type: "error",
    code,
    message: words,
    ref
  };
}

// wire/names.ts
var MAX_NICK_LENGTH = 32;
var NAME_PATTERN = /^[\p{L}\p{Nd}_-][\p{L}\p{M}\p{Nd}_-]*$/u;
var INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;
var MAX_MARKS_PER_LETTER = 4;
var MARK_RUN = new RegExp(`\\p{M}{${MAX_MARKS_PER_LETTER + 1}}`, "u");
function characterCount(text) {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
function checkNick(proposed) {
  const nick = proposed.normalize("NFC");
  const length = characterCount(nick);
  if (length === 0) return {
    ok: false,
    reason: "Nickname is empty"
  };
  if (length > MAX_NICK_LENGTH) {
    return {
      ok: false,
      reason: `Nickname is longer than ${MAX_NICK_LENGTH} characters`
    };
  }
  if (!NAME_PATTERN.test(nick) || INVISIBLE.test(nick)) {
    return {
      ok: false,
      reason: "Nickname may hold only letters, digits, _ and -"
    };
  }
  if (MARK_RUN.test(nick)) {
    return {
      ok: false,
      reason: `Nickname stacks more than ${MAX_MARKS_PER_LETTER} accents on one letter`
    };
  }
  return {
    ok: true,
    name: nick
  };
}
function foldKey(name) {
  return name.normalize("NFKC").toLowerCase();
}

// wire/commands.ts
function firstWord(args) {
  const space = args.search(/\s/);
  return space === -1 ? [
    args,
    ""
  ] : [
    args.slice(0, space),
    args.slice(space + 1).trim()
  ];
}
function optional(key, value) {
  return value === "" ? {} : {
    [key]: value
  };
}
function line(...words) {
  return words.filter((word) => word !== void 0).join(" ");
}
var PLAIN = {
  beforeLogin: false,
  operator: false,
  floodExempt: false
};
var OPERATOR_ONLY = {
  ...PLAIN,
  operator: true
};
var changesText = (request) => request.text !== void 0;
var DURATION_PATTERN = /^0*[1-9]\d*[smhd]$/;
var DURATION_TYPO = /^[+-]?(\d+([.,]\d*)?|[.,]\d+)(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?|mo|mons?|months?|y|yrs?|years?)?$/i;
var WHO_PAGING_WORDS = /* @__PURE__ */ new Set([
  "after",
  "more"
]);
var WHO_USAGE = "/who [#ROOM] [after NICK]";
function parseWhoArgs(args) {
  const words = args.split(/\s+/).filter((word) => word !== "");
  const request = {
    type: "who"
  };
  let at = 0;
  const first = words[0];
  if (first !== void 0 && !WHO_PAGING_WORDS.has(first.toLowerCase())) {
    request.room = first;
    at = 1;
  }
  const keyword = words[at];
  if (keyword === void 0) return request;
  switch (keyword.toLowerCase()) {
    case "after":
      break;
    case "more":
      return `${WHO_USAGE}: "more" is not a room (that is /who #more); /who more goes on from the last page in the terminal and web clients, and every page ends with the command for the next`;
    default:
      return `${WHO_USAGE}: one room, then only "after NICK"`;
  }
  const cursor = words[at + 1];
  if (cursor === void 0) {
    return `${WHO_USAGE}: after needs the nickname the last page ended at (a room called after is /who #after)`;
  }
  if (cursor.startsWith("#")) {
    return `${WHO_USAGE}: after takes a nickname; the room comes first, as in /who ${cursor} after NICK`;
  }
  const nick = checkNick(cursor);
  if (!nick.ok) {
    return `${WHO_USAGE}: after takes the nickname the last page ended at (${nick.reason})`;
  }
  if (words.length > at + 2) {
    return `${WHO_USAGE}: nothing goes after the nickname`;
  }
  request.after = cursor;
  return request;
}
function whoRoomWord(room) {
  return WHO_PAGING_WORDS.has(room.toLowerCase()) ? `#${room}` : room;
}
var MAX_HISTORY_PAGE = 200;
function parseHistoryArgs(args) {
  const usage = "/history [#ROOM|@NICK] [before ID] [N]";
  const request = {
    type: "history"
  };
  const words = args.split(/\s+/).filter((word) => word !== "");
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word === "before" && /^\d+$/.test(words[i + 1] ?? "")) {
      const id = Number(words[++i]);
      if (!Number.isSafeInteger(id) || id === 0) {
        return `${usage}: ID is a message id, as /history pages end with`;
      }
      if (request.before !== void 0) {
        return `${usage}: one "before ID" at a time`;
      }
      request.before = id;
    } else if (/^\d+$/.test(word) && (/^0+$/.test(word) || Number(word) > MAX_HISTORY_PAGE)) {
      return `${usage}: N is how many messages, from 1 to ${MAX_HISTORY_PAGE}`;
    } else if (/^\d+$/.test(word) && request.limit === void 0) {
      request.limit = Number(word);
    } else if ((word.startsWith("#") || word.startsWith("@")) && (request.room !== void 0 || request.with !== void 0)) {
      return `${usage}: one room or one nickname at a time`;
    } else if (word.startsWith("@") && word.length > 1) {
      request.with = word.slice(1);
    } else if (word.startsWith("#")) {
      request.room = word;
    } else {
      return usage;
    }
  }
  return request;
}
function parseBanArgs(args) {
  const [target, rest] = firstWord(args);
  if (target === "") return "/ban NICK|IP [DURATION] [REASON]";
  const [maybeDuration, afterDuration] = firstWord(rest);
  const hasDuration = DURATION_PATTERN.test(maybeDuration);
  if (!hasDuration && DURATION_TYPO.test(maybeDuration)) {
    return `/ban NICK|IP [DURATION] [REASON]: "${maybeDuration}" is not a duration like 30s, 10m, 12h or 7d (a whole number and s, m, h or d); nobody was banned`;
  }
  return {
    type: "ban",
    target,
    ...optional("duration", hasDuration ? maybeDuration : ""),
    ...optional("reason", hasDuration ? afterDuration : rest)
  };
}
var REQUESTS = {
  hello: {
    json: {
      nick: "string",
      room: "string?",
      password: "string?",
      identify: "string?",
      hints: "hints?"
    },
    policy: {
      ...PLAIN,
      beforeLogin: true
    }
  },
  message: {
    json: {
      text: "string",
      room: "string?"
    },
    policy: PLAIN
  },
  pong: {
    json: {
      token: "string"
    },
    policy: {
      ...PLAIN,
      beforeLogin: true,
      floodExempt: true
    }
  },
  help: {
    text: {
      name: "help",
      aliases: [
        "?"
      ],
      usage: "/help [COMMAND]",
      summary: "list the commands, or explain one",
      parse: (args) => {
        const [command, rest] = firstWord(args);
        return rest !== "" ? "/help [COMMAND]" : {
          type: "help",
          ...optional("command", command)
        };
      },
      format: (r) => line("/help", r.command)
    },
    json: {
      command: "string?"
    },
    policy: {
      ...PLAIN,
      beforeLogin: true
    }
  },
  nick: {
    text: {
      name: "nick",
      aliases: [],
      usage: "/nick NEW",
      summary: "change your nickname",
      parse: (args) => {
        const [nick, rest] = firstWord(args);
        return nick === "" || rest !== "" ? "/nick NEW" : {
          type: "nick",
          nick
        };
      },
      format: (r) => `/nick ${r.nick}`
    },
    json: {
      nick: "string"
    },
    policy: PLAIN
  },
  join: {
    text: {
      name: "join",
      aliases: [
        "j"
      ],
      usage: "/join #ROOM",
      summary: "join a room (creating it if new) and talk there; you stay in the others",
      parse: (args) => {
        const [room, rest] = firstWord(args);
        return room === "" || rest !== "" ? "/join #ROOM" : {
          type: "join",
          room
        };
      },
      format: (r) => `/join ${r.room}`
    },
    json: {
      room: "string"
    },
    policy: PLAIN
  },
  switch: {
    text: {
      name: "switch",
      aliases: [
        "sw"
      ],
      usage: "/switch #ROOM",
      summary: "talk in another of your rooms (nobody is told)",
      parse: (args) => {
        const [room, rest] = firstWord(args);
        return room === "" || rest !== "" ? "/switch #ROOM" : {
          type: "switch",
          room
        };
      },
      format: (r) => `/switch ${r.room}`
    },
    json: {
      room: "string"
    },
    policy: PLAIN
  },
  part: {
    text: {
      name: "part",
      aliases: [
        "leave"
      ],
      usage: "/part [#ROOM]",
      summary: `leave a room (default: the current one); leaving your last takes you to ${LOBBY}`,
      parse: (args) => {
        const [room, rest] = firstWord(args);
        return rest !== "" ? "/part [#ROOM]" : {
          type: "part",
          ...optional("room", room)
        };
      },
      format: (r) => line("/part", r.room)
    },
    json: {
      room: "string?"
    },
    policy: PLAIN
  },
  rooms: {
    text: {
      name: "rooms",
      aliases: [
        "list"
      ],
      usage: "/rooms",
      summary: "list the rooms, how many are in each, and which are yours",
      parse: () => ({
        type: "rooms"
      }),
      format: () => "/rooms"
    },
    json: {},
    policy: PLAIN
  },
  who: {
    text: {
      name: "who",
      aliases: [
        "names"
      ],
      usage: WHO_USAGE,
      summary: "list who is in the current room (or another), a page at a time in a big room",
      parse: parseWhoArgs,
      format: (r) => line("/who", r.room === void 0 ? void 0 : whoRoomWord(r.room), r.after === void 0 ? void 0 : `after ${r.after}`)
    },
    json: {
      room: "string?",
      after: "nick?",
      limit: "count?"
    },
    policy: PLAIN
  },
  private: {
    text: {
      name: "msg",
      aliases: [
        "m",
        "tell"
      ],
      usage: "/msg NICK TEXT",
      summary: "send a private message",
      parse: (args) => {
        const [to, text] = firstWord(args);
        return to === "" || text === "" ? "/msg NICK TEXT" : {
          type: "private",
          to,
          text
        };
      },
      format: (r) => `/msg ${r.to} ${r.text}`
    },
    json: {
      to: "string",
      text: "string"
    },
    policy: PLAIN
  },
  action: {
    text: {
      name: "me",
      aliases: [],
      usage: "/me ACTION",
      summary: "describe what you are doing",
      parse: (args) => args === "" ? "/me ACTION" : {
        type: "action",
        text: args
      },
      format: (r) => `/me ${r.text}`
    },
    json: {
      text: "string",
      room: "string?"
    },
    policy: PLAIN
  },
  away: {
    text: {
      name: "away",
      aliases: [],
      usage: "/away [REASON]",
      summary: "mark yourself away",
      parse: (args) => ({
        type: "away",
        ...optional("reason", args)
      }),
      format: (r) => line("/away", r.reason)
    },
    json: {
      reason: "string?"
    },
    policy: PLAIN
  },
  back: {
    text: {
      name: "back",
      aliases: [],
      usage: "/back",
      summary: "mark yourself back",
      parse: () => ({
        type: "back"
      }),
      format: () => "/back"
    },
    json: {},
    policy: PLAIN
  },
  ping: {
    text: {
      name: "ping",
      aliases: [],
      usage: "/ping",
      summary: "check that the server answers",
      parse: (args) => ({
        type: "ping",
        ...optional("token", args)
      }),
      format: (r) => line("/ping", r.token)
    },
    json: {
      token: "string?"
    },
    policy: {
      ...PLAIN,
      beforeLogin: true
    }
  },
  topic: {
    text: {
      name: "topic",
      aliases: [],
      usage: "/topic [TEXT]",
      summary: "show the current room's topic (operators: set it)",
      parse: (args) => ({
        type: "topic",
        ...optional("text", args)
      }),
      format: (r) => line("/topic", r.text)
    },
    json: {
      text: "string?",
      room: "string?"
    },
    policy: {
      ...PLAIN,
      operator: changesText
    }
  },
  motd: {
    text: {
      name: "motd",
      aliases: [],
      usage: "/motd [TEXT]",
      summary: "show the message of the day (operators: set it)",
      parse: (args) => ({
        type: "motd",
        ...optional("text", args)
      }),
      format: (r) => line("/motd", r.text)
    },
    json: {
      text: "string?"
    },
    policy: {
      ...PLAIN,
      operator: changesText
    }
  },
  pass: {
    text: {
      name: "pass",
      aliases: [],
      usage: "/pass PASSWORD",
      summary: "give the server password (when the server has one)",
      parse: (args) => args === "" ? "/pass PASSWORD" : {
        type: "pass",
        password: args
      },
      format: (r) => `/pass ${r.password}`
    },
    json: {
      password: "string"
    },
    policy: {
      ...PLAIN,
      beforeLogin: true
    }
  },
  oper: {
    text: {
      name: "oper",
      aliases: [],
      usage: "/oper PASSWORD",
      summary: "become an operator",
      parse: (args) => args === "" ? "/oper PASSWORD" : {
        type: "oper",
        password: args
      },
      format: (r) => `/oper ${r.password}`
    },
    json: {
      password: "string"
    },
    policy: PLAIN
  },
  kick: {
    text: {
      name: "kick",
      aliases: [],
      usage: "/kick NICK [REASON]",
      summary: "disconnect someone",
      parse: (args) => {
        const [nick, reason] = firstWord(args);
        return nick === "" ? "/kick NICK [REASON]" : {
          type: "kick",
          nick,
          ...optional("reason", reason)
        };
      },
      format: (r) => line("/kick", r.nick, r.reason)
    },
    json: {
      nick: "string",
      reason: "string?"
    },
    policy: OPERATOR_ONLY
  },
  ban: {
    text: {
      name: "ban",
      aliases: [],
      usage: "/ban NICK|IP [DURATION] [REASON]",
      summary: "keep an address out, for a time like 30m, 12h or 7d, or for good",
      parse: parseBanArgs,
      format: (r) => line("/ban", r.target, r.duration, r.reason)
    },
    json: {
      target: "string",
      duration: "string?",
      reason: "string?"
    },
    policy: OPERATOR_ONLY
  },
  unban: {
    text: {
      name: "unban",
      aliases: [],
      usage: "/unban NICK|IP",
      summary: "lift a ban",
      parse: (args) => {
        const [target, rest] = firstWord(args);
        return target === "" || rest !== "" ? "/unban NICK|IP" : {
          type: "unban",
          target
        };
      },
      format: (r) => `/unban ${r.target}`
    },
    json: {
      target: "string"
    },
    policy: OPERATOR_ONLY
  },
  bans: {
    text: {
      name: "bans",
      aliases: [],
      usage: "/bans",
      summary: "list the bans",
      parse: () => ({
        type: "bans"
      }),
      format: () => "/bans"
    },
    json: {},
    policy: OPERATOR_ONLY
  },
  mute: {
    text: {
      name: "mute",
      aliases: [],
      usage: "/mute NICK",
      summary: "stop someone's messages reaching anyone",
      parse: (args) => {
        const [nick, rest] = firstWord(args);
        return nick === "" || rest !== "" ? "/mute NICK" : {
          type: "mute",
          nick
        };
      },
      format: (r) => `/mute ${r.nick}`
    },
    json: {
      nick: "string"
    },
    policy: OPERATOR_ONLY
  },
  unmute: {
    text: {
      name: "unmute",
      aliases: [],
      usage: "/unmute NICK",
      summary: "let someone talk again",
      parse: (args) => {
        const [nick, rest] = firstWord(args);
        return nick === "" || rest !== "" ? "/unmute NICK" : {
          type: "unmute",
          nick
        };
      },
      format: (r) => `/unmute ${r.nick}`
    },
    json: {
      nick: "string"
    },
    policy: OPERATOR_ONLY
  },
  history: {
    text: {
      name: "history",
      aliases: [],
      usage: "/history [#ROOM|@NICK] [before ID] [N]",
      summary: "page back through a room's messages, or your private ones with NICK",
      parse: parseHistoryArgs,
      format: (r) => line("/history", r.room, r.with === void 0 ? void 0 : `@${r.with}`, r.before === void 0 ? void 0 : `before ${r.before}`, r.limit === void 0 ? void 0 : String(r.limit))
    },
    json: {
      room: "string?",
      with: "string?",
      before: "count?",
      limit: "count?"
    },
    policy: PLAIN
  },
  register: {
    text: {
      name: "register",
      aliases: [],
      usage: "/register PASSWORD",
      summary: "claim your nickname so only you can use it",
      parse: (args) => args === "" ? "/register PASSWORD" : {
        type: "register",
        password: args
      },
      format: (r) => `/register ${r.password}`
    },
    json: {
      password: "string"
    },
    policy: PLAIN
  },
  identify: {
    text: {
      name: "identify",
      aliases: [],
      usage: "/identify [NICK] PASSWORD",
      summary: "prove a registered nickname is yours",
      parse: (args) => {
        const [first, rest] = firstWord(args);
        if (first === "") return "/identify [NICK] PASSWORD";
        return rest === "" ? {
          type: "identify",
          password: first
        } : {
          type: "identify",
          nick: first,
          password: rest
        };
      },
      format: (r) => line("/identify", r.nick, r.password)
    },
    json: {
      password: "string",
      nick: "string?"
    },
    policy: {
      ...PLAIN,
      beforeLogin: true
    }
  },
  drop: {
    text: {
      name: "drop",
      aliases: [],
      usage: "/drop [NICK]",
      summary: "release your registered nickname (operators: anyone's)",
      parse: (args) => {
        const [nick, rest] = firstWord(args);
        return rest !== "" ? "/drop [NICK]" : {
          type: "drop",
          ...optional("nick", nick)
        };
      },
      format: (r) => line("/drop", r.nick)
    },
    json: {
      nick: "string?"
    },
    policy: PLAIN
  },
  setpass: {
    text: {
      name: "setpass",
      aliases: [],
      usage: "/setpass NEWPASSWORD",
      summary: "change the password of the nickname you are identified to",
      parse: (args) => args === "" ? "/setpass NEWPASSWORD" : {
        type: "setpass",
        password: args
      },
      format: (r) => `/setpass ${r.password}`
    },
    json: {
      password: "string"
    },
    policy: PLAIN
  },
  quit: {
    text: {
      name: "quit",
      aliases: [
        "exit"
      ],
      usage: "/quit [REASON]",
      summary: "leave the chat",
      parse: (args) => ({
        type: "quit",
        ...optional("reason", args)
      }),
      format: (r) => line("/quit", r.reason)
    },
    json: {
      reason: "string?"
    },
    policy: {
      ...PLAIN,
      beforeLogin: true,
      floodExempt: true
    }
  }
};

// wire/bye.ts
function byeMeansReconnect(code) {
  switch (code) {
    case "shutdown":
    case "timeout":
    case "slow":
    case "full":
      return true;
    case "quit":
    case "kicked":
    case "banned":
    case "taken_over":
    case "flood":
    case "bad_password":
    case "refused":
      return false;
  }
}

// wire/text_codec.ts
var COMMANDS = Object.entries(REQUESTS).flatMap(([request, spec]) => spec.text === void 0 ? [] : [
  {
    ...spec.text,
    request,
    operator: spec.policy.operator === true
  }
]);
function firstWord2(args) {
  const space = args.search(/\s/);
  return space === -1 ? [
    args,
    ""
  ] : [
    args.slice(0, space),
    args.slice(space + 1).trim()
  ];
}
var commandsByName = new Map(COMMANDS.flatMap((c) => [
  c.name,
  ...c.aliases
].map((n) => [
  n,
  c
])));
var commandsByRequest = new Map(COMMANDS.map((c) => [
  c.request,
  c
]));
function typoDistance(a, b, most) {
  if (Math.abs(a.length - b.length) > most) return most + 1;
  let before = [];
  let previous = Array.from({
    length: b.length + 1
  }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [
      i
    ];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, before[j - 2] + 1);
      }
      current.push(best);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length];
}
function suggestCommand(word) {
  const typed = word.replace(/^\//, "").toLowerCase();
  if (typed.length < 3) return void 0;
  const names = [
    ...commandsByName.keys()
  ].filter((name) => name.length >= 3);
  const most = typed.length <= 4 ? 1 : 2;
  let best;
  let bestDistance = most + 1;
  for (const name of names) {
    const distance = typoDistance(typed, name, most);
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  if (best !== void 0) return `/${best}`;
  const starts = COMMANDS.filter((c) => c.name.startsWith(typed));
  return starts.length === 1 ? `/${starts[0].name}` : void 0;
}
function noSuchCommand(what, word) {
  const typed = word.replace(/^\//, "");
  const guess = suggestCommand(typed);
  return `${what} /${typed}; ${guess === void 0 ? "" : `did you mean ${guess}? `}/help lists the commands`;
}
function decodeTextRequest(line2) {
  if (line2.trim() === "") return null;
  if (!line2.startsWith("/") || line2.startsWith("//")) {
    return {
      type: "message",
      text: line2.startsWith("//") ? line2.slice(1) : line2
    };
  }
  const [word, args] = firstWord2(line2.slice(1).trim());
  const command = commandsByName.get(word.toLowerCase());
  if (command === void 0) {
    return errorEvent("unknown_command", noSuchCommand("Unknown command", word));
  }
  const parsed = command.parse(args.trim());
  return typeof parsed === "string" ? errorEvent("usage", `Usage: ${parsed}`) : parsed;
}
function whoPastEnd(room, count) {
  return `${room} (${count}): no members after that name; /who ${room} starts from the top`;
}

// web/src/who_notice.ts
function whoNotice(event, listed = true) {
  if (event.members.length === 0 && event.count !== void 0) {
    return whoPastEnd(event.room, event.count);
  }
  const count = event.count === void 0 ? "" : ` (${event.count})`;
  const more = event.next === void 0 ? "" : listed ? "; more: /who more" : `; more: /who ${event.room} after ${event.next}`;
  return `${event.room}${count}: ${event.members.map((member) => `${member.nick}${member.away !== void 0 ? " (away)" : ""}`).join(", ")}${more}`;
}

// wire/who_more.ts
var WHO_NAMES = new Set(COMMANDS.filter((command) => command.request === "who").flatMap((command) => [
  command.name,
  ...command.aliases
]));
function isWhoMore(line2) {
  const match = /^\/\s*(\S+)\s+(\S+)\s*$/.exec(line2);
  return match !== null && match[2].toLowerCase() === "more" && WHO_NAMES.has(match[1].toLowerCase());
}
function whoMoreRequest(last) {
  if (last === null) {
    return errorEvent("usage", "No /who page to go on from: /who shows the first page");
  }
  if (last.next === void 0) {
    return errorEvent("usage", `That was the last page of ${last.room}; /who ${last.room} starts from the top`);
  }
  return {
    type: "who",
    room: last.room,
    after: last.next
  };
}

// wire/json_codec.ts
function parseObject(line2) {
  let value;
  try {
    value = JSON.parse(line2);
  } catch {
    return {
      ok: false,
      error: errorEvent("bad_json", "Cannot parse line: not valid JSON")
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      error: errorEvent("bad_request", "Cannot accept request: not an object")
    };
  }
  return {
    ok: true,
    value
  };
}
var EVENT_TYPES = {
  welcome: true,
  message: true,
  action: true,
  private: true,
  join: true,
  leave: true,
  nick: true,
  away: true,
  back: true,
  rooms: true,
  who: true,
  members: true,
  count: true,
  history: true,
  help: true,
  notice: true,
  error: true,
  pong: true,
  ping: true,
  topic: true,
  motd: true,
  bans: true,
  conversation: true,
  bye: true,
  switch: true
};
function decodeJsonEvent(line2) {
  if (!line2.startsWith("{")) return null;
  const parsed = parseObject(line2);
  if (!parsed.ok) return null;
  const source = parsed.value;
  if (typeof source.type !== "string" || !Object.hasOwn(EVENT_TYPES, source.type)) {
    return null;
  }
  return source;
}

// web/src/connection.ts
var RETRY_FIRST_MS = 500;
var RETRY_MAX_MS = 15e3;
function retryDelay(attempt, random) {
  const base = Math.min(RETRY_FIRST_MS * 2 ** attempt, RETRY_MAX_MS);
  return Math.round(base * (0.75 + random / 2));
}
var Connection = class {
  #url;
  #handlers;
  #socket = null;
  #attempt = 0;
  #timer;
  #stopped = false;
  /**
   * Does not connect yet (see `connect`); when the browser comes back
   * online it retries at once.
   * @param url the `ws:` or `wss:` URL of the server's `/ws`
   * @param handlers told of opening, events and closing
   */
  constructor(url, handlers) {
    this.#url = url;
    this.#handlers = handlers;
    globalThis.addEventListener("online", () => this.retryNow());
  }
  /** Whether the socket is open. */
  get open() {
    return this.#socket?.readyState === WebSocket.OPEN;
  }
  /** Opens the socket (again). */
  connect() {
    clearTimeout(this.#timer);
    this.#stopped = false;
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    socket.addEventListener("open", () => this.#handlers.onOpen());
    socket.addEventListener("message", (message) => {
      if (typeof message.data !== "string") return;
      const event = decodeJsonEvent(message.data);
      if (event !== null) this.#handlers.onEvent(event);
    });
    socket.addEventListener("close", () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (this.#stopped) {
        this.#handlers.onClose(null);
        return;
      }
      const delay = retryDelay(this.#attempt++, Math.random());
      this.#timer = setTimeout(() => this.connect(), delay);
      this.#handlers.onClose(delay);
    });
  }
  /** The server welcomed us: the next drop starts from the first delay. */
  welcomed() {
    this.#attempt = 0;
  }
  /** Retries at once if waiting to (the browser came back online). */
  retryNow() {
    if (this.#socket === null && !this.#stopped) this.connect();
  }
  /**
   * Opens the socket again unless one is open or opening, even after
   * {@linkcode stop}: the person asked to try again.
   */
  reopen() {
    if (this.#socket === null) this.connect();
  }
  /** Sends one request; false if the socket is not open. */
  send(request) {
    if (!this.open) return false;
    this.#socket.send(JSON.stringify(request));
    return true;
  }
  /** Closes for good: no retry follows. */
  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#socket?.close(1e3);
  }
};

// client/line_editor.ts
var SECRET_COMMAND = /^\s*\/(oper|register|identify|pass)(\s|$)/i;
function isSecretLine(line2) {
  return SECRET_COMMAND.test(line2);
}
var graphemes = new Intl.Segmenter(void 0, {
  granularity: "grapheme"
});

// web/src/input_history.ts
var INPUT_HISTORY_LIMIT = 200;
var InputHistory = class {
  #limit;
  #lines = [];
  /** Index of the recalled line; `#lines.length` while typing anew. */
  #recall = 0;
  /** What was being typed before recall began, given back by Down. */
  #draft = "";
  /**
   * An empty history.
   *
   * @param limit the most lines kept (the oldest go first)
   */
  constructor(limit = INPUT_HISTORY_LIMIT) {
    this.#limit = limit;
  }
  /** The lines kept, oldest first. */
  get lines() {
    return this.#lines;
  }
  /**
   * Remembers a sent box, except a blank one, a repeat of the last, or a
   * line carrying a password; recall starts again from the newest.
   */
  add(text) {
    if (text.trim() !== "" && !isSecretLine(text) && this.#lines.at(-1) !== text) {
      this.#lines.push(text);
      if (this.#lines.length > this.#limit) this.#lines.shift();
    }
    this.#recall = this.#lines.length;
    this.#draft = "";
  }
  /** The line before the one shown, or null at the oldest. */
  up(current) {
    if (this.#recall === 0) return null;
    if (this.#recall === this.#lines.length) this.#draft = current;
    this.#recall--;
    return this.#lines[this.#recall];
  }
  /** The line after the one shown, the draft after the newest, or null. */
  down() {
    if (this.#recall >= this.#lines.length) return null;
    this.#recall++;
    return this.#recall === this.#lines.length ? this.#draft : this.#lines[this.#recall];
  }
};

// web/src/links.ts
var ADDRESS = /\bhttps?:\/\/[^\s<>"]+/gi;
var TRAILING = /[.,;:!?'*]+$/;
function trimAddress(address) {
  let trimmed = address.replace(TRAILING, "");
  for (const [open, close] of [
    [
      "(",
      ")"
    ],
    [
      "[",
      "]"
    ]
  ]) {
    while (trimmed.endsWith(close) && trimmed.split(open).length < trimmed.split(close).length) {
      trimmed = trimmed.slice(0, -1).replace(TRAILING, "");
    }
  }
  return trimmed;
}
function linkParts(text) {
  const parts = [];
  let at = 0;
  for (const match of text.matchAll(ADDRESS)) {
    const address = trimAddress(match[0]);
    let href;
    try {
      const url = new URL(address);
      if (url.protocol !== "http:" && url.protocol !== "https:") continue;
      href = url.href;
    } catch {
      continue;
    }
    if (match.index > at) parts.push({
      text: text.slice(at, match.index)
    });
    parts.push({
      text: address,
      href
    });
    at = match.index + address.length;
  }
  if (at < text.length) parts.push({
    text: text.slice(at)
  });
  return parts;
}

// client/send_pacer.ts
function positive(value) {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : null;
}
function announcedPace(welcome) {
  if (typeof welcome !== "object" || welcome === null) return null;
  const rate = welcome.rate;
  if (typeof rate !== "object" || rate === null) return null;
  const fields = rate;
  const lines = positive(fields.lines);
  if (lines === null) return null;
  const pace = {
    lines,
    burst: Math.max(1, positive(fields.burst) ?? 1)
  };
  const bytes = positive(fields.bytes);
  if (bytes !== null) {
    pace.bytes = bytes;
    pace.burstBytes = Math.max(bytes, positive(fields.burstBytes) ?? bytes);
  }
  return pace;
}
var SAFETY = 0.9;
var Bucket = class {
  #capacity;
  #perMs;
  #tokens;
  #updatedAt;
  constructor(capacity, perSecond, now) {
    this.#capacity = capacity;
    this.#perMs = perSecond / 1e3;
    this.#tokens = capacity;
    this.#updatedAt = now;
  }
  #refill(now) {
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#perMs);
    this.#updatedAt = now;
  }
  /** Ms until `cost` is available (a cost over capacity waits for full). */
  wait(now, cost) {
    this.#refill(now);
    const need = Math.min(cost, this.#capacity);
    return this.#tokens >= need ? 0 : Math.ceil((need - this.#tokens) / this.#perMs);
  }
  take(now, cost) {
    this.#refill(now);
    this.#tokens -= cost;
  }
};
var SendPacer = class {
  #lines;
  #bytes;
  /**
   * Starts with full buckets, each a margin under the server's so it never
   * trips the server's flood control.
   * @param pace what the server announced
   * @param now the time, ms
   */
  constructor(pace, now) {
    this.#lines = new Bucket(Math.max(1, Math.floor(pace.burst * SAFETY)), pace.lines * SAFETY, now);
    this.#bytes = pace.bytes === void 0 ? null : new Bucket(Math.max(1, Math.floor((pace.burstBytes ?? pace.bytes) * SAFETY)), pace.bytes * SAFETY, now);
  }
  /** Milliseconds until a line of `bytes` may be sent; 0 when it may go now. */
  wait(now, bytes) {
    return Math.max(this.#lines.wait(now, 1), this.#bytes?.wait(now, bytes) ?? 0);
  }
  /** Spends a line's allowance; call only when {@linkcode wait} is 0. */
  take(now, bytes) {
    this.#lines.take(now, 1);
    this.#bytes?.take(now, bytes);
  }
};

// web/src/outgoing.ts
var encoder = new TextEncoder();
function filledLines(text) {
  return text.split(/\r\n|\r|\n/).filter((line2) => line2.trim() !== "");
}
function pastedRequests(lines, target, privateRef2) {
  return lines.map((text) => target.kind === "room" ? {
    type: "message",
    room: target.name,
    text,
    ref: "typed"
  } : {
    type: "private",
    to: target.name,
    text,
    ref: privateRef2(target.name)
  });
}
function requestBytes(request) {
  return encoder.encode(JSON.stringify(request)).length;
}
function tooLong(requests, maxLine) {
  for (const [index, request] of requests.entries()) {
    const bytes = requestBytes(request);
    if (bytes <= maxLine) continue;
    const which = requests.length > 1 ? `line ${index + 1}` : "this message";
    return `Too long to send: ${which} takes ${bytes} bytes, and the server reads at most ${maxLine}; shorten it or split it into lines`;
  }
  return null;
}

// web/src/model.ts
var OLDER_PAGE = 50;
var GAP_PAGE = 200;
var MAX_NOTICES = 500;
function conversationKey(kind, name) {
  return kind === "room" ? name.toLowerCase() : `@${name.toLowerCase()}`;
}
var PRIVATE_REF = "to:";
function privateRef(name) {
  return `${PRIVATE_REF}${name}`;
}
function conversationOfRef(ref) {
  return typeof ref === "string" && ref.startsWith(PRIVATE_REF) ? conversationKey("private", ref.slice(PRIVATE_REF.length)) : null;
}
var ChatModel = class {
  /** Our nickname once welcomed. */
  me = null;
  /** Every conversation, by key. */
  conversations = /* @__PURE__ */ new Map();
  /** Our current room on the server (where a bare line would go). */
  currentRoom = null;
  /** The rooms we are in, by key. */
  joined = /* @__PURE__ */ new Set();
  /** The conversation on screen. */
  active = null;
  /** The rooms the server listed, with member counts. */
  rooms = [];
  /** Highest message id seen in any conversation: where a resume starts. */
  lastSeenId = 0;
  /** The room of the last `/who` page the person asked for. */
  lastWhoRoom = null;
  /** `who` requests sent on this connection and not answered yet. */
  #whoAwaited = 0;
  /** The conversation for `key`, made on first use. */
  conversation(kind, name) {
    const key = conversationKey(kind, name);
    let conversation = this.conversations.get(key);
    if (conversation === void 0) {
      conversation = {
        key,
        kind,
        name,
        lines: [],
        ids: /* @__PURE__ */ new Set(),
        unread: 0,
        topic: "",
        members: /* @__PURE__ */ new Map(),
        memberCount: null,
        quiet: false,
        membersNext: null,
        historyDone: false,
        loadingOlder: false
      };
      this.conversations.set(key, conversation);
    }
    return conversation;
  }
  /** Shows `key`, clearing its unread count. */
  activate(key) {
    this.active = key;
    const conversation = this.conversations.get(key);
    if (conversation !== void 0) conversation.unread = 0;
  }
  /** A live room message or action; false if already held. */
  roomMessage(message) {
    const conversation = this.conversation("room", message.room);
    return this.#addLive(conversation, lineOf(message));
  }
  /** A live private message; false if already held. */
  privateMessage(message) {
    const other = message.from === this.me ? message.to : message.from;
    const conversation = this.conversation("private", other);
    return this.#addLive(conversation, lineOf(message));
  }
  /** A notice or error in a conversation (the active one by default). */
  notice(text, kind = "notice", key) {
    const target = key ?? this.active ?? this.currentRoom;
    if (target === null) return;
    const conversation = this.conversations.get(target);
    if (conversation === void 0) return;
    conversation.lines.push({
      ts: Date.now(),
      kind,
      text
    });
    const notices = conversation.lines.filter((line2) => line2.id === void 0);
    if (notices.length > MAX_NOTICES) {
      const drop = notices[0];
      conversation.lines.splice(conversation.lines.indexOf(drop), 1);
    }
  }
  /**
   * Older or replayed messages: merged by id, skipping those held. Returns
   * how many were new.
   */
  mergeHistory(conversation, messages) {
    let added = 0;
    for (const message of messages) {
      if (conversation.ids.has(message.id)) continue;
      conversation.ids.add(message.id);
      insertById(conversation.lines, lineOf(message));
      this.lastSeenId = Math.max(this.lastSeenId, message.id);
      added++;
    }
    return added;
  }
  /** The oldest message id a conversation holds, or null. */
  oldestId(conversation) {
    for (const line2 of conversation.lines) {
      if (line2.id !== void 0) return line2.id;
    }
    return null;
  }
  /** The newest message id a conversation holds, or 0. */
  newestId(conversation) {
    for (let i = conversation.lines.length - 1; i >= 0; i--) {
      const id = conversation.lines[i].id;
      if (id !== void 0) return id;
    }
    return 0;
  }
  /**
   * Someone left for good (quit, lost, kicked...), told once in `room`:
   * out of every room we share with them, as the protocol asks, and out of
   * the counts of `room` and of the rooms whose list held them (of another
   * room held in part, nothing says whether they were in it). Returns the
   * request that fetches `room`'s list again when this news shows a room
   * that was big is back under the size ({@linkcode ChatModel.memberChange}).
   */
  leftEverywhere(nick, room, reason) {
    const named = this.conversation("room", room);
    for (const conversation of this.conversations.values()) {
      if (conversation.kind !== "room") continue;
      const held = conversation.members.delete(nick);
      if (held || conversation === named) uncount(conversation);
    }
    const moderated = reason === "kicked" || reason === "banned";
    return moderated ? null : this.#announcing(named, nick);
  }
  /**
   * A `who` page, asked for after the nickname `after` (undefined: from the
   * top). The list held is always the room's members from the top, in one
   * piece: a page from the top replaces it, and a page that goes on from
   * where it ends is added to it. A page from anywhere else (a typed
   * `/who #room after NICK` past the list's end, or one that answers a
   * request the list has since moved past) would leave a gap, or show
   * names twice over: it is not added, and false says so. Its `count` and
   * `next` say how many there are and where the list goes on; the next page
   * comes only when asked for ({@linkcode moreMembersRequest}), so a room of
   * ten thousand is never fetched whole.
   */
  members(room, page, after) {
    const conversation = this.conversation("room", room);
    if (after === void 0) {
      conversation.members.clear();
    } else {
      const end = conversation.membersNext;
      if (end === null || end === "" || foldKey(end) !== foldKey(after)) {
        return false;
      }
    }
    for (const member of page.members) {
      conversation.members.set(member.nick, member.away ?? null);
    }
    conversation.memberCount = page.count ?? null;
    conversation.membersNext = page.next ?? null;
    return true;
  }
  /**
   * A big room's member count, sent in place of its list: names held from
   * before would go stale (a big room announces no joins), so the list
   * starts again from the top when asked for.
   */
  memberTotal(room, count) {
    const conversation = this.conversation("room", room);
    conversation.members.clear();
    conversation.memberCount = count;
    conversation.quiet = true;
    conversation.membersNext = "";
  }
  /**
   * The server's room list: its counts are also the latest of the big
   * rooms we are in, whose joins and leaves are not announced.
   */
  listRooms(rooms) {
    this.rooms = rooms;
    for (const room of rooms) {
      if (this.joined.has(conversationKey("room", room.name))) {
        this.roomCount(room.name, room.members);
      }
    }
  }
  /**
   * A big room's size now (`count`, sent while it changes): the count moves,
   * the names held stay, as a list held in part. A room not known to be big
   * any more (a join it announced came since) keeps the count it follows.
   */
  roomCount(room, count) {
    const conversation = this.conversation("room", room);
    if (conversation.quiet) conversation.memberCount = count;
  }
  /**
   * The member list a join brings unasked: a big room sends its count
   * instead, so the room is not big now.
   */
  joinList(room, page) {
    this.members(room, page);
    this.conversation("room", room).quiet = false;
  }
  /**
   * What `/who more` goes on from: the room of the last `/who` asked for
   * and where its list stands, or null when none was asked for.
   */
  lastWho() {
    const room = this.lastWhoRoom;
    if (room === null) return null;
    const next = this.conversation("room", room).membersNext;
    return next === null ? {
      room
    } : {
      room,
      next
    };
  }
  /**
   * A `who` request went out: a `/who more` typed before its answer waits
   * for it ({@linkcode ChatModel.whoMore}).
   */
  whoAsked() {
    this.#whoAwaited++;
  }
  /** A `who` request was answered: its page, or the error refusing it. */
  whoAnswered() {
    this.#whoAwaited = Math.max(0, this.#whoAwaited - 1);
  }
  /** A new connection: nothing asked on the one before will be answered. */
  whoReconnected() {
    this.#whoAwaited = 0;
  }
  /**
   * What a typed `/who more` asks for when its turn comes: the page after
   * the last one (with its ref), or the error saying there is none; null
   * while a `who` asked before it is unanswered, as it goes on from that
   * page (decided as typed, twice before the page came, it would ask for
   * the same page twice).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ChatModel } from "./model.ts";
   * const model = new ChatModel();
   * model.whoAsked();
   * assert.equal(model.whoMore(), null, "its page has not come");
   * ```
   */
  whoMore() {
    if (this.#whoAwaited > 0) return null;
    const last = this.lastWho();
    if (last?.next === "") {
      return {
        type: "who",
        room: last.room,
        ref: TYPED_WHO_REF
      };
    }
    const more = whoMoreRequest(last);
    return more.type === "error" ? more : {
      ...more,
      ref: typedRef(more)
    };
  }
  /**
   * Someone joined, left, was renamed, went away or came back. Of a list
   * held only in part (a big room's first pages), only names within what it
   * holds are added or marked: a name past its end shows when its page is
   * asked for, and added now it would stand alone beyond a gap; a count
   * held counts joins and parts.
   *
   * Returns the request that fetches the list again, from the top, when
   * this news shows a room that was big is back under the size: a big room
   * announces no joins or parts, so its count and list stopped when it
   * became big, and whoever came and went since is known only to the
   * server. Null otherwise.
   */
  memberChange(room, change) {
    const conversation = this.conversation("room", room);
    const members = conversation.members;
    const end = conversation.membersNext;
    const held = (nick) => end === null || end !== "" && foldKey(nick) <= foldKey(end);
    switch (change.kind) {
      case "join":
        if (!members.has(change.nick) && conversation.memberCount !== null) {
          conversation.memberCount++;
        }
        if (held(change.nick)) members.set(change.nick, null);
        return this.#announcing(conversation, change.nick);
      case "leave":
        members.delete(change.nick);
        uncount(conversation);
        return this.#announcing(conversation, change.nick);
      case "nick": {
        const away = members.get(change.old) ?? null;
        members.delete(change.old);
        if (held(change.nick)) members.set(change.nick, away);
        break;
      }
      case "away":
        if (held(change.nick)) members.set(change.nick, change.reason);
        break;
      case "back":
        if (held(change.nick)) members.set(change.nick, null);
        break;
    }
    return null;
  }
  /**
   * `nick`'s arrival or departure was announced in `conversation`: if the
   * room was big (quiet), it is back under the size, and its list is
   * fetched again. One's own join or part is told even in a big room.
   */
  #announcing(conversation, nick) {
    if (!conversation.quiet || nick === this.me) return null;
    conversation.quiet = false;
    return {
      type: "who",
      room: conversation.name,
      ref: MEMBERS_MORE_REF
    };
  }
  #addLive(conversation, line2) {
    if (line2.id !== void 0) {
      if (conversation.ids.has(line2.id)) return false;
      conversation.ids.add(line2.id);
      this.lastSeenId = Math.max(this.lastSeenId, line2.id);
    }
    insertById(conversation.lines, line2);
    if (conversation.key !== this.active && line2.from !== this.me) {
      conversation.unread++;
    }
    return true;
  }
};
function uncount(conversation) {
  if (conversation.memberCount !== null) {
    conversation.memberCount = Math.max(0, conversation.memberCount - 1);
  }
}
function moreMembersRequest(conversation) {
  const after = conversation.membersNext;
  if (conversation.kind !== "room" || after === null) return null;
  return after === "" ? {
    type: "who",
    room: conversation.name,
    ref: MEMBERS_MORE_REF
  } : {
    type: "who",
    room: conversation.name,
    after,
    ref: `${MEMBERS_MORE_REF}:${after}`
  };
}
var TYPED_REF = "typed";
var TYPED_WHO_REF = "typed-who";
var WHO_MORE_REF = "who-more:";
var MEMBERS_MORE_REF = "members-more";
function typedRef(request) {
  if (request.type !== "who") return TYPED_REF;
  return request.after !== void 0 ? `${WHO_MORE_REF}${request.after}` : TYPED_WHO_REF;
}
function answersWho(ref) {
  return typeof ref === "string" && (ref === TYPED_WHO_REF || ref.startsWith(WHO_MORE_REF) || ref === MEMBERS_MORE_REF || ref.startsWith(`${MEMBERS_MORE_REF}:`));
}
function whoPageRole(ref) {
  if (typeof ref !== "string") return {
    typed: false
  };
  if (ref.startsWith(WHO_MORE_REF)) {
    return {
      typed: true,
      after: ref.slice(WHO_MORE_REF.length)
    };
  }
  if (ref.startsWith(`${MEMBERS_MORE_REF}:`)) {
    return {
      typed: false,
      after: ref.slice(MEMBERS_MORE_REF.length + 1)
    };
  }
  return {
    typed: ref === TYPED_WHO_REF
  };
}
function lineOf(message) {
  return {
    id: message.id,
    ts: message.ts,
    kind: message.type === "action" ? "action" : "message",
    from: message.from,
    text: message.text
  };
}
function insertById(lines, line2) {
  const id = line2.id;
  if (id === void 0) {
    lines.push(line2);
    return;
  }
  for (let at = lines.length - 1; at >= 0; at--) {
    const held = lines[at].id;
    if (held === void 0) continue;
    if (held < id) {
      lines.push(line2);
      return;
    }
    break;
  }
  let seenId = false;
  for (let at = 0; at < lines.length; at++) {
    const held = lines[at].id;
    if (held === void 0) continue;
    if (held > id) {
      lines.splice(seenId ? at : 0, 0, line2);
      return;
    }
    seenId = true;
  }
  lines.push(line2);
}
function nickColor(nick, count) {
  let hash = 0;
  for (const char of nick.toLowerCase()) {
    hash = hash * 31 + char.codePointAt(0) >>> 0;
  }
  return hash % count;
}

// web/src/main.ts
var NICK_COLORS = 8;
var LOAD_OLDER_MARGIN_PX = 40;
var RESUME_REF = "resume";
var ROOMS_REFRESH_MS = 2e4;
function element(id) {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page lacks #${id}`);
  return found;
}
var ChatPage = class {
  model = new ChatModel();
  connection;
  #login = null;
  #loggedIn = false;
  #quitting = false;
  /** Logged in before on this page: a welcome now is a reconnection. */
  #wasLoggedIn = false;
  /** The server said goodbye on this socket: its close needs no words. */
  #byeSeen = false;
  /** Why the server last said goodbye, for the form shown after it. */
  #byeReason = "";
  /** Rooms whose replay after a reconnect must be checked for a gap. */
  #resumeFrom = /* @__PURE__ */ new Map();
  /** The lines now on screen, to append rather than redraw. */
  #shown = [];
  #shownKey = null;
  #roomsTimer;
  /** The room a click asked to join or switch to, shown once it is current. */
  #switchingTo = null;
  /** The longest request the server reads (its welcome says). */
  #maxLine = DEFAULT_MAX_LINE_BYTES;
  /** The server's flood budget, kept a little under; null: none. */
  #pacer = null;
  /** Typed lines not sent yet, in order: a paste goes at the server's pace. */
  #outbox = [];
  #outboxTimer;
  /** Lines sent from the box, for Up/Down recall. */
  #sent = new InputHistory();
  /** Ticks the "reconnecting in N s" status down while disconnected. */
  #countdownTimer;
  constructor() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.connection = new Connection(`${scheme}//${location.host}/ws`, {
      onOpen: () => this.#opened(),
      onEvent: (event) => this.#event(event),
      onClose: (retry) => this.#closed(retry)
    });
    element("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submitLogin();
    });
    element("send-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submitLine();
    });
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
    element("members-more").addEventListener("click", () => this.#moreMembers());
    this.connection.connect();
  }
  // -- connection ------------------------------------------------------------
  #opened() {
    this.#stopCountdown();
    this.#byeSeen = false;
    this.#byeReason = "";
    this.#status("connected", "Connected");
    if (this.#login !== null) this.#sendHello();
  }
  #closed(retryInMs) {
    this.#stopCountdown();
    clearInterval(this.#roomsTimer);
    this.#returnUnsent();
    const wasIn = this.#loggedIn;
    this.#loggedIn = false;
    if (wasIn) {
      if (!this.#byeSeen) this.#notice("Connection lost", "error");
      for (const conversation of this.model.conversations.values()) {
        if (conversation.kind === "room") {
          this.#resumeFrom.set(conversation.key, this.model.newestId(conversation));
        }
      }
    }
    if (retryInMs === null) {
      this.#status("disconnected", "Disconnected");
      if (wasIn) this.#backToForm();
      return;
    }
    const attemptAt = Date.now() + retryInMs;
    const show = () => {
      const seconds = Math.ceil((attemptAt - Date.now()) / 1e3);
      if (seconds <= 0) {
        this.#stopCountdown();
        this.#status("disconnected", "Disconnected; reconnecting\u2026");
        return;
      }
      this.#status("disconnected", `Disconnected; reconnecting in ${seconds} s`);
    };
    show();
    this.#countdownTimer = setInterval(show, 1e3);
  }
  #stopCountdown() {
    clearInterval(this.#countdownTimer);
    this.#countdownTimer = void 0;
  }
  /**
   * After a goodbye that is not undone by reconnecting (quit, kicked,
   * banned, taken over), the form comes back saying why, with the
   * nickname in it: Enter joins again, as that name or another.
   */
  #backToForm() {
    element("login-error").textContent = this.#byeReason === "" ? "Disconnected: press Enter to join again" : `Disconnected: ${this.#byeReason}. Press Enter to join again`;
    const nick = element("nick");
    nick.value = this.model.me ?? nick.value;
    element("login").hidden = false;
    element("chat").hidden = true;
    nick.focus();
  }
  #status(state, text) {
    const status = element("status");
    status.dataset.state = state;
    status.textContent = text;
  }
  /** Sends at once, counting it against the pace typed lines keep. */
  #send(request) {
    if (!this.connection.send(request)) return false;
    this.#pacer?.take(Date.now(), requestBytes(request));
    if (request.type === "who") this.model.whoAsked();
    return true;
  }
  #sendHello() {
    const login = this.#login;
    const room = this.model.currentRoom === null ? login.room : this.model.conversations.get(this.model.currentRoom)?.name ?? login.room;
    const hello = {
      type: "hello",
      nick: this.model.me ?? login.nick,
      // The page is typed into: the server's hints name slash commands
      // (`/quit`), not the request types the page turns them into.
      hints: "commands",
      ref: "login"
    };
    if (room !== "") hello.room = room;
    if (login.password !== void 0) hello.password = login.password;
    if (login.identify !== void 0) hello.identify = login.identify;
    this.#send(hello);
  }
  // -- login -------------------------------------------------------------------
  #submitLogin() {
    const value = (id) => element(id).value;
    const login = {
      nick: value("nick").trim(),
      room: value("room").trim()
    };
    if (!element("server-password-row").hidden && value("server-password")) {
      login.password = value("server-password");
    }
    if (!element("nick-password-row").hidden && value("nick-password")) {
      login.identify = value("nick-password");
    }
    this.#login = login;
    this.model.me = null;
    element("login-error").textContent = "";
    if (this.connection.open) this.#sendHello();
    else this.connection.reopen();
  }
  /**
   * The server refused a login: the form says why in the page's words
   * (the server's speak of commands typed once logged in) and puts the
   * cursor in the field to fix.
   */
  #loginFailed(event) {
    let field = "nick";
    let text = event.message;
    if (event.code === "bad_password" && event.password === "nickname") {
      field = "nick-password";
    } else if (event.code === "bad_password") {
      element("server-password-row").hidden = false;
      if (this.#login?.password === void 0) {
        text = "This server needs a password: enter it below";
      }
      field = "server-password";
    } else if (event.code === "nick_registered") {
      element("nick-password-row").hidden = false;
      text = `${this.#login?.nick} is a registered nickname: enter its password below, or choose another nickname`;
      field = "nick-password";
    }
    element("login-error").textContent = text;
    this.#loggedIn = false;
    element("login").hidden = false;
    element("chat").hidden = true;
    const input = element(field);
    input.focus();
    input.select();
  }
  // -- events ------------------------------------------------------------------
  #event(event) {
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
        this.#send({
          type: "rooms"
        });
        this.#rejoin();
        this.#resumePrivate();
        clearInterval(this.#roomsTimer);
        this.#roomsTimer = setInterval(() => this.#send({
          type: "rooms"
        }), ROOMS_REFRESH_MS);
        return;
      case "message":
      case "action":
        this.#live(model.roomMessage(event), conversationKey("room", event.room));
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
        this.#refetchMembers(event.room, event.reason === "part" ? model.memberChange(event.room, {
          kind: "leave",
          nick: event.nick
        }) : model.leftEverywhere(event.nick, event.room, event.reason));
        const why = event.message ? `: ${event.message}` : "";
        this.#roomNotice(event.room, `${event.nick} left ${event.room} (${event.reason}${why})`);
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
          nick: event.nick
        });
        this.#roomNotice(event.room, `${event.old} is now ${event.nick}`);
        return;
      case "away":
        model.memberChange(event.room, {
          kind: "away",
          nick: event.nick,
          reason: event.reason
        });
        this.#roomNotice(event.room, `${event.nick} is away${event.reason ? `: ${event.reason}` : ""}`);
        return;
      case "back":
        model.memberChange(event.room, {
          kind: "back",
          nick: event.nick
        });
        this.#roomNotice(event.room, `${event.nick} is back`);
        return;
      case "switch":
        this.#current(event.room);
        return;
      case "rooms":
        model.listRooms(event.rooms);
        if (event.ref === TYPED_REF) {
          this.#notice(event.rooms.length === 0 ? "No rooms" : `Rooms: ${event.rooms.map((room) => `${room.name} (${room.members})`).join(", ")}`);
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
        this.#history(model.conversation("room", event.room), event.messages, event.ref, event.more === true);
        return;
      case "conversation":
        this.#history(model.conversation("private", event.with), event.messages, event.ref, event.more === true);
        return;
      case "topic": {
        const conversation = model.conversation("room", event.room);
        conversation.topic = event.topic;
        if (event.ref === TYPED_REF || event.ts !== void 0) {
          this.#roomNotice(event.room, event.topic === "" ? `${event.room} has no topic` : `Topic of ${event.room}: ${event.topic}${event.by ? ` (set by ${event.by})` : ""}`);
        }
        this.#renderHeading();
        return;
      }
      case "help":
        for (const command of event.commands) {
          this.#notice(`${command.usage}: ${command.summary}${command.operator ? " (operators)" : ""}`);
        }
        return;
      case "motd":
        for (const line2 of event.lines) this.#notice(line2);
        return;
      case "bans":
        this.#notice(event.bans.length === 0 ? "No bans" : `Bans: ${event.bans.map((ban) => `${ban.address}${ban.nick ? ` (${ban.nick})` : ""}`).join(", ")}`);
        return;
      case "notice":
        if (this.#loggedIn) this.#notice(event.text);
        return;
      case "error":
        if (answersWho(event.ref)) {
          this.model.whoAnswered();
          this.#notice(event.message, "error");
          this.#flushOutbox();
          return;
        }
        if (event.ref === RESUME_REF) {
          return;
        }
        if (!this.#loggedIn && event.ref === "login") {
          this.#loginFailed(event);
        } else if (!this.#loggedIn) {
          element("login-error").textContent = event.message;
        } else if (conversationOfRef(event.ref) !== null) {
          this.model.notice(event.message, "error", conversationOfRef(event.ref));
          this.#render();
        } else {
          this.#notice(event.message, "error");
        }
        return;
      case "pong":
        this.#notice(`Pong${event.token ? ` ${event.token}` : ""}`);
        return;
      case "ping":
        this.#send({
          type: "pong",
          token: event.token
        });
        return;
      case "bye":
        this.#byeSeen = true;
        this.#byeReason = event.reason;
        this.#notice(`Disconnected: ${event.reason}`, "error");
        if (!this.#loggedIn) element("login-error").textContent = event.reason;
        if (this.#quitting || !byeMeansReconnect(event.code)) {
          this.connection.stop();
        }
        return;
    }
  }
  #joined(room, nick) {
    const model = this.model;
    const key = conversationKey("room", room);
    if (nick === model.me) {
      model.joined.add(key);
      model.conversation("room", room).name = room;
      this.#current(room);
      this.#send({
        type: "rooms"
      });
    }
    this.#refetchMembers(room, model.memberChange(room, {
      kind: "join",
      nick
    }));
    this.#roomNotice(room, `${nick} joined ${room}`);
    this.#renderLists();
  }
  /** The server moved our current room: the page follows it. */
  #current(room) {
    const model = this.model;
    const key = conversationKey("room", room);
    const previous = model.currentRoom;
    model.currentRoom = key;
    if (model.active === null || model.active === previous || this.#switchingTo === key) {
      model.activate(key);
    }
    this.#switchingTo = null;
    this.#render();
  }
  #private(message) {
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
  #who(event) {
    const { typed, after } = whoPageRole(event.ref);
    let listed = true;
    if (event.ref === void 0) this.model.joinList(event.room, event);
    else listed = this.model.members(event.room, event, after);
    if (typed) {
      this.model.lastWhoRoom = event.room;
      this.#notice(whoNotice(event, listed));
    }
    this.#renderMembers();
    if (answersWho(event.ref)) {
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
  #refetchMembers(room, request) {
    if (request === null) return;
    const wait = this.#pacer?.wait(Date.now(), requestBytes(request)) ?? 0;
    if (wait === 0 && this.#send(request)) return;
    this.model.conversation("room", room).quiet = true;
  }
  /** The member list's next page, for the "More members" button. */
  #moreMembers() {
    const key = this.#membersKey();
    const conversation = key === null ? void 0 : this.model.conversations.get(key);
    if (conversation === void 0) return;
    const request = moreMembersRequest(conversation);
    if (request !== null) this.#send(request);
  }
  /**
   * History arrived: on a join, the replay; after a reconnect, the replay
   * is checked for a gap, filled by paging back; on a scroll up, a page of
   * older messages.
   */
  #history(conversation, messages, ref, more) {
    const list = element("messages");
    const fromBottom = list.scrollHeight - list.scrollTop;
    this.model.mergeHistory(conversation, messages);
    const oldest = messages[0]?.id;
    if (ref === "older") {
      conversation.loadingOlder = false;
      if (!more) conversation.historyDone = true;
    } else if (ref === TYPED_REF) {
    } else if (ref === "gap" || ref === void 0 && messages.length > 0) {
      const since = this.#resumeFrom.get(conversation.key);
      if (since !== void 0 && oldest !== void 0 && oldest > since + 1) {
        if (more) {
          this.#send({
            type: "history",
            room: conversation.name,
            before: oldest,
            limit: GAP_PAGE,
            ref: "gap"
          });
          this.#render(fromBottom);
          return;
        }
      }
      this.#resumeFrom.delete(conversation.key);
    } else if (ref === void 0) {
      this.#resumeFrom.delete(conversation.key);
    }
    this.#render(fromBottom);
  }
  /**
   * After a reconnect the hello brought back the current room; the other
   * rooms we were in are joined again, and the current one made current.
   */
  #rejoin() {
    const model = this.model;
    const current = model.currentRoom;
    const others = [
      ...model.joined
    ].filter((key) => key !== current);
    model.joined.clear();
    if (current !== null) model.joined.add(current);
    for (const key of others) {
      const room = model.conversations.get(key);
      if (room !== void 0) this.#send({
        type: "join",
        room: room.name
      });
    }
    if (others.length > 0 && current !== null) {
      const room = model.conversations.get(current);
      if (room !== void 0) this.#send({
        type: "switch",
        room: room.name
      });
    }
  }
  /** Says in the conversation on screen that the chat is back. */
  #reconnected(nick) {
    const rooms = [
      ...this.model.joined
    ].map((key) => this.model.conversations.get(key)?.name ?? key);
    this.#notice(rooms.length === 0 ? `Reconnected as ${nick}` : `Reconnected as ${nick}; back in ${rooms.join(", ")}`);
  }
  /** After a reconnect, private conversations fetch what they missed. */
  #resumePrivate() {
    for (const conversation of this.model.conversations.values()) {
      if (conversation.kind !== "private") continue;
      this.#send({
        type: "history",
        with: conversation.name,
        limit: GAP_PAGE,
        ref: RESUME_REF
      });
    }
  }
  #loadOlder() {
    const key = this.model.active;
    if (key === null) return;
    const conversation = this.model.conversations.get(key);
    if (conversation === void 0 || conversation.historyDone || conversation.loadingOlder || !this.#loggedIn) {
      return;
    }
    const before = this.model.oldestId(conversation);
    const request = conversation.kind === "room" ? {
      type: "history",
      room: conversation.name,
      limit: OLDER_PAGE
    } : {
      type: "history",
      with: conversation.name,
      limit: OLDER_PAGE
    };
    if (before !== null) request.before = before;
    request.ref = "older";
    conversation.loadingOlder = true;
    this.#send(request);
  }
  #live(added, key) {
    if (!added) return;
    if (key === this.model.active) this.#render();
    else this.#renderLists();
  }
  #notice(text, kind = "notice") {
    this.model.notice(text, kind);
    this.#render();
  }
  #roomNotice(room, text) {
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
  #submitLine() {
    const input = element("input");
    const lines = filledLines(input.value);
    if (lines.length === 0) return;
    const outgoing = lines.length === 1 ? this.#typed(lines[0]) : this.#pasted(lines);
    if (outgoing === null) return;
    const refusal = tooLong(outgoing.map((entry) => entry.request), this.#maxLine);
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
      this.#notice(`Sending ${this.#outbox.length} more lines at the server's pace`);
    }
  }
  /**
   * Up/Down in the box: on its first line (Up) or last line (Down), with
   * nothing selected, it recalls a sent line; elsewhere the caret moves.
   */
  #recall(event) {
    if (event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    const input = element("input");
    const { value, selectionStart, selectionEnd } = input;
    if (selectionStart !== selectionEnd) return;
    const up = event.key === "ArrowUp";
    const onEdge = up ? !value.slice(0, selectionStart).includes("\n") : !value.slice(selectionEnd).includes("\n");
    if (!onEdge) return;
    const line2 = up ? this.#sent.up(value) : this.#sent.down();
    if (line2 === null) return;
    event.preventDefault();
    input.value = line2;
    input.setSelectionRange(line2.length, line2.length);
  }
  /** One typed line's request, or null (and why, on screen). */
  #typed(line2) {
    const active = this.model.active === null ? void 0 : this.model.conversations.get(this.model.active);
    let request;
    if (active?.kind === "private" && (!line2.startsWith("/") || line2.startsWith("//"))) {
      request = {
        type: "private",
        to: active.name,
        text: line2.startsWith("//") ? line2.slice(1) : line2,
        // A refusal (the name has a new holder) is shown in this conversation.
        ref: privateRef(active.name)
      };
    } else if (isWhoMore(line2)) {
      return [
        {
          request: {
            type: "who"
          },
          typed: line2,
          whoMore: true
        }
      ];
    } else {
      const decoded = decodeTextRequest(line2);
      if (decoded === null) return null;
      if (decoded.type === "error") {
        this.#notice(decoded.message, "error");
        return null;
      }
      request = decoded;
      if (active?.kind === "room" && (request.type === "message" || request.type === "action" || request.type === "topic") && request.room === void 0) {
        request.room = active.name;
      }
      request.ref = typedRef(request);
    }
    return [
      {
        request,
        typed: line2
      }
    ];
  }
  /** A paste's lines as messages to the conversation on screen. */
  #pasted(lines) {
    const active = this.model.active === null ? void 0 : this.model.conversations.get(this.model.active);
    if (active === void 0) {
      this.#notice("Open a room or a conversation first", "error");
      return null;
    }
    return pastedRequests(lines, active, privateRef).map((request, index) => ({
      request,
      typed: lines[index]
    }));
  }
  /**
   * Sends what waits in the outbox, as fast as the server's flood budget
   * allows: past its burst, a paste goes out at its rate instead of piling
   * up at the server, which holds lines that come faster and disconnects a
   * client whose lines wait too long.
   */
  #flushOutbox() {
    clearTimeout(this.#outboxTimer);
    this.#outboxTimer = void 0;
    while (this.#outbox.length > 0) {
      const next = this.#outbox[0];
      if (next.whoMore) {
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
      const wait = this.#pacer?.wait(Date.now(), requestBytes(next.request)) ?? 0;
      if (wait > 0) {
        this.#outboxTimer = setTimeout(() => this.#flushOutbox(), wait);
        return;
      }
      if (!this.#send(next.request)) return;
      this.#outbox.shift();
    }
  }
  /** Lines the connection's end kept from leaving go back in the box. */
  #returnUnsent() {
    clearTimeout(this.#outboxTimer);
    this.#outboxTimer = void 0;
    if (this.#outbox.length === 0) return;
    const input = element("input");
    const unsent = this.#outbox.map((entry) => entry.typed);
    this.#outbox = [];
    input.value = [
      ...unsent,
      input.value
    ].filter((text) => text !== "").join("\n");
    this.#notice(`${unsent.length} lines were not sent before the connection closed; they are back in the message box`, "error");
  }
  #switchTo(conversation) {
    const model = this.model;
    model.activate(conversation.key);
    if (conversation.kind === "room" && conversation.key !== model.currentRoom) {
      this.#switchingTo = conversation.key;
      this.#send({
        type: model.joined.has(conversation.key) ? "switch" : "join",
        room: conversation.name
      });
    }
    this.#render();
    element("input").focus();
  }
  // -- rendering ---------------------------------------------------------------
  /** Redraws what changed; `fromBottom` keeps the view still under history. */
  #render(fromBottom) {
    this.#renderMessages(fromBottom);
    this.#renderHeading();
    this.#renderLists();
    this.#renderMembers();
  }
  #renderMessages(fromBottom) {
    const list = element("messages");
    const key = this.model.active;
    const conversation = key === null ? void 0 : this.model.conversations.get(key);
    const lines = conversation?.lines ?? [];
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < LOAD_OLDER_MARGIN_PX;
    const shown = this.#shown;
    const appendOnly = key === this.#shownKey && lines.length >= shown.length && shown.every((line2, index) => lines[index] === line2);
    if (appendOnly) {
      for (const line2 of lines.slice(shown.length)) {
        list.append(lineElement(line2));
      }
    } else {
      list.setAttribute("aria-busy", "true");
      list.replaceChildren(...lines.map(lineElement));
      list.setAttribute("aria-busy", "false");
    }
    this.#shown = [
      ...lines
    ];
    this.#shownKey = key;
    if (fromBottom !== void 0 && !atBottom) {
      list.scrollTop = list.scrollHeight - fromBottom;
    } else if (atBottom || !appendOnly) {
      list.scrollTop = list.scrollHeight;
    }
    element("older").hidden = conversation === void 0 || conversation.historyDone;
    if (conversation !== void 0 && !conversation.historyDone && list.scrollHeight <= list.clientHeight && lines.length > 0) {
      this.#loadOlder();
    }
  }
  #renderHeading() {
    const key = this.model.active;
    const conversation = key === null ? void 0 : this.model.conversations.get(key);
    element("title").textContent = conversation === void 0 ? "" : conversation.kind === "room" ? conversation.name : `Private: ${conversation.name}`;
    element("topic").textContent = conversation?.topic ?? "";
  }
  #renderLists() {
    const model = this.model;
    const rooms = /* @__PURE__ */ new Map();
    for (const room of model.rooms) {
      rooms.set(conversationKey("room", room.name), {
        name: room.name,
        count: room.members
      });
    }
    for (const conversation of model.conversations.values()) {
      if (conversation.kind === "room" && !rooms.has(conversation.key)) {
        rooms.set(conversation.key, {
          name: conversation.name
        });
      }
    }
    const roomItems = [
      ...rooms.entries()
    ].sort(([a], [b]) => a < b ? -1 : 1).map(([key, room]) => {
      const conversation = model.conversation("room", room.name);
      const joined = model.joined.has(key);
      const count = !joined ? room.count : conversation.memberCount ?? (conversation.members.size > 0 ? conversation.members.size : room.count);
      return this.#listItem(conversation, count === void 0 ? room.name : `${room.name} (${count})`, joined);
    });
    element("rooms").replaceChildren(...roomItems);
    const privates = [
      ...model.conversations.values()
    ].filter((c) => c.kind === "private").map((conversation) => this.#listItem(conversation, conversation.name, false));
    element("privates").replaceChildren(...privates);
    const unread = [
      ...model.conversations.values()
    ].reduce((sum, conversation) => sum + conversation.unread, 0);
    document.title = unread === 0 ? "tern" : `(${unread}) tern`;
  }
  #listItem(conversation, label, joined) {
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
  #membersKey() {
    const active = this.model.active;
    return active !== null && !active.startsWith("@") ? active : this.model.currentRoom;
  }
  #renderMembers() {
    const key = this.#membersKey();
    const conversation = key === null ? void 0 : this.model.conversations.get(key);
    const list = element("members");
    const more = element("members-more");
    if (conversation === void 0) {
      list.replaceChildren();
      more.hidden = true;
      return;
    }
    more.hidden = conversation.membersNext === null;
    more.textContent = conversation.members.size === 0 ? "List members" : "More members";
    const nicks = [
      ...conversation.members.entries()
    ].sort(([a], [b]) => foldKey(a) < foldKey(b) ? -1 : 1);
    element("members-title").textContent = conversation.memberCount !== null ? `Members: ${conversation.memberCount}` : `Members (${nicks.length})`;
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
};
function lineElement(line2) {
  const item = document.createElement("li");
  item.className = `line ${line2.kind}`;
  if (line2.id !== void 0) item.dataset.id = String(line2.id);
  const time = document.createElement("time");
  const date = new Date(line2.ts);
  time.dateTime = date.toISOString();
  time.textContent = date.toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23"
  });
  item.append(time, " ");
  if (line2.from !== void 0) {
    const from = document.createElement("span");
    from.className = `from nick-${nickColor(line2.from, NICK_COLORS)}`;
    from.textContent = line2.kind === "action" ? `* ${line2.from}` : line2.from;
    item.append(from, " ");
  }
  const text = document.createElement("span");
  text.className = "text";
  for (const part of linkParts(line2.text)) {
    if (part.href === void 0) {
      text.append(part.text);
      continue;
    }
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
