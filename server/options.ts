/**
 * The server's command line: flags, environment variables and the files they
 * name (TLS certificate and key, message of the day), read into
 * {@linkcode ServerOptions}. Any problem is a one-line {@linkcode UsageError}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  LIMIT_SPECS,
  type Limits,
  limitsHelp,
  parseLimitFlags,
} from "./limits.ts";
import { defaultDatabasePath } from "./store/history_store.ts";
import {
  DEFAULT_HOST,
  DEFAULT_HTTP_PORT,
  DEFAULT_HTTPS_PORT,
  DEFAULT_PORT,
  DEFAULT_TLS_PORT,
  firstLine,
  PASSWORD_ENV,
  readEnv,
} from "../wire/endpoint.ts";
import { normalizeOrigin } from "./web/http_rules.ts";
import {
  LOG_LEVELS,
  type LogFormat,
  Logger,
  type LogLevel,
  PipeSink,
} from "./log.ts";

/** Environment variable holding the operator password. */
export const OPER_PASSWORD_ENV = "TERN_OP_PASSWORD";

/** Environment variable naming the Redis of a cluster (as `--redis`). */
export const REDIS_URL_ENV = "TERN_REDIS_URL";

/** A TLS listener's certificate chain and key, as PEM text. */
export interface TlsOptions {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
  /** The port to listen on with TLS. */
  port: number;
}

/** The web client and its WebSocket (see server/web/). */
export interface WebOptions {
  /** HTTP port; 0 lets the system pick one, null turns HTTP off. */
  port: number | null;
  /**
   * HTTPS port, when {@linkcode ServerOptions.tls} gives a certificate;
   * null turns HTTPS off. @default {7444}
   */
  httpsPort?: number | null;
  /**
   * Origins besides the page's own whose pages may open the WebSocket
   * (`scheme://host:port`). @default {[]}
   */
  allowedOrigins?: string[];
}

/** Where and how the server runs. */
export interface ServerOptions {
  /** Address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /**
   * Plain TCP port; 0 lets the system pick one, null turns the plain
   * listener off (TLS only). @default {7000}
   */
  port?: number | null;
  /** A TLS listener as well (or instead, with `port: null`). */
  tls?: TlsOptions;
  /**
   * The web client over HTTP (and HTTPS with `tls`). @default none (the
   * command line defaults to HTTP on port 7080)
   */
  web?: WebOptions;
  /** The name clients see in the welcome. @default {"tern"} */
  name?: string;
  /** Limits; anything left out takes its default. */
  limits?: Partial<Limits>;
  /** Where log lines go. @default a silent logger */
  logger?: Logger;
  /** A password every connection must give before it can talk. */
  password?: string;
  /** The password of `/oper`; without one there are no operators. */
  operatorPassword?: string;
  /** The message of the day, one entry per line. */
  motd?: string[];
  /** The file `motd` was read from: SIGHUP reads it again. */
  motdFile?: string;
  /**
   * The history database file, or `:memory:` to keep nothing past a
   * restart. @default {":memory:"} (the command line defaults to a file in
   * the user's data directory)
   */
  database?: string;
  /**
   * Whether loopback addresses are held to `--connect-rate`,
   * `--https-connect-rate` and `--http-connect-rate` too (tests of the
   * rates set this).
   * @default {false}
   */
  throttleLoopback?: boolean;
  /**
   * A Redis URL (`redis://[user:password@]host:port[/db]`, `rediss://` for
   * TLS): the server becomes one node of a cluster sharing room messages and
   * nicknames through it. @default none: one process on its own
   */
  redis?: string;
}

/**
 * Checks a `--redis` URL's shape here, so a typo is a usage error rather
 * than a connection failure later.
 */
function readRedisUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `--redis must be a URL like redis://127.0.0.1:6379; got "${text}"`,
    );
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new UsageError(
      `--redis must start with redis:// or rediss://; got "${url.protocol}//"`,
    );
  }
  return text;
}

/**
 * The default database file, its directory created if needed: the command
 * line must work on a fresh machine with no flag.
 */
function defaultDatabaseFile(): string {
  let path: string;
  try {
    path = defaultDatabasePath(readEnv);
  } catch (error) {
    throw new UsageError(firstLine(error));
  }
  try {
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  } catch (error) {
    throw new UsageError(
      `cannot create the directory of ${path}: ${firstLine(error)}`,
    );
  }
  return path;
}

/** A command-line failure: printed as one line, exit code 2. */
export class UsageError extends Error {}

/** The `--help` text. */
export const USAGE = `Usage: deno run -A server.ts [options]

  --host HOST                 address to listen on (default ${DEFAULT_HOST})
  --port PORT                 plain TCP port, 0 for any free one (default ${DEFAULT_PORT})
  --no-plain                  no plain listener (with --tls-cert: TLS only)
  --tls-cert FILE             PEM certificate chain: also listen with TLS
  --tls-key FILE              PEM private key for --tls-cert
  --tls-port PORT             TLS port (default ${DEFAULT_TLS_PORT})
  --http-port PORT            web client and WebSocket port, 0 for any free one
                              (default ${DEFAULT_HTTP_PORT})
  --no-http                   no web client over HTTP
  --https-port PORT           web client over HTTPS, with --tls-cert
                              (default ${DEFAULT_HTTPS_PORT})
  --no-https                  no web client over HTTPS (with --tls-cert: TLS
                              for the chat alone)
  --allowed-origin ORIGIN     another origin (scheme://host:port) whose pages
                              may open the WebSocket; repeatable
  --password PASSWORD         server password (or $${PASSWORD_ENV})
  --op-password PASSWORD      operator password for /oper (or $${OPER_PASSWORD_ENV})
  --motd FILE                 message of the day shown after login
  --db PATH                   history database (default
                              $XDG_DATA_HOME/tern/chat.db or
                              ~/.local/share/tern/chat.db; :memory: keeps nothing)
  --name NAME                 server name shown to clients (default tern)
  --log-level LEVEL           debug, info, warn or error (default info)
  --log-format FORMAT         text or json (default text)
  --redis URL                 run as one node of a cluster through Redis
                              (or $${REDIS_URL_ENV}; redis:// or rediss://)
  --throttle-loopback         hold 127.0.0.1 and ::1 to the connection rates too
  --help                      show this help

Limits:
${limitsHelp()}`;

function readPort(flag: string, text: string, fallback: number): number {
  const port = text === "" ? fallback : Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `--${flag} must be a whole number from 0 to 65535; got "${text}"`,
    );
  }
  return port;
}

function readFile(flag: string, path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    throw new UsageError(`--${flag} ${path}: ${firstLine(error)}`);
  }
}

/** The web flags: ports, on or off, and the extra allowed origins. */
function readWebOptions(
  values: Record<string, string | boolean | string[] | undefined>,
  tls: boolean,
): WebOptions {
  const text = (flag: string) =>
    typeof values[flag] === "string" ? values[flag] as string : "";
  const port = values["no-http"] === true
    ? null
    : readPort("http-port", text("http-port"), DEFAULT_HTTP_PORT);
  if (values["https-port"] !== undefined && values["no-https"] === true) {
    throw new UsageError("--https-port and --no-https contradict each other");
  }
  const httpsPort = values["no-https"] === true ? null : readPort(
    "https-port",
    text("https-port"),
    DEFAULT_HTTPS_PORT,
  );
  if (values["https-port"] !== undefined && !tls) {
    throw new UsageError("--https-port needs --tls-cert and --tls-key");
  }
  const origins = (values["allowed-origin"] ?? []) as string[];
  for (const origin of origins) {
    if (normalizeOrigin(origin) === null) {
      throw new UsageError(
        `--allowed-origin must be scheme://host[:port] with http or https; got "${origin}"`,
      );
    }
  }
  return { port, httpsPort, allowedOrigins: origins };
}

/**
 * Parses the command line into server options.
 * @throws UsageError with a one-line message for any bad flag or file
 */
export function parseServerArgs(args: string[]): ServerOptions & {
  help: boolean;
} {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        "no-plain": { type: "boolean" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "tls-port": { type: "string" },
        "http-port": { type: "string" },
        "no-http": { type: "boolean" },
        "https-port": { type: "string" },
        "no-https": { type: "boolean" },
        "allowed-origin": { type: "string", multiple: true },
        password: { type: "string" },
        "op-password": { type: "string" },
        motd: { type: "string" },
        db: { type: "string" },
        name: { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        "throttle-loopback": { type: "boolean" },
        redis: { type: "string" },
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(
          LIMIT_SPECS.map((spec) => [spec.flag, { type: "string" as const }]),
        ),
      },
    });
  } catch (error) {
    throw new UsageError(firstLine(error));
  }
  const values = parsed.values as Record<
    string,
    string | boolean | string[] | undefined
  >;
  const text = (flag: string) =>
    typeof values[flag] === "string" ? values[flag] as string : undefined;
  const help = values.help === true;
  const limits = parseLimitFlags(values);
  if (!limits.ok) throw new UsageError(limits.error);
  const level = text("log-level") ?? "info";
  const format = text("log-format") ?? "text";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(
      `--log-level must be debug, info, warn or error; got "${level}"`,
    );
  }
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--log-format must be text or json; got "${format}"`);
  }
  const port = values["no-plain"] === true
    ? null
    : readPort("port", text("port") ?? "", DEFAULT_PORT);
  const certPath = text("tls-cert");
  const keyPath = text("tls-key");
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  if (port === null && certPath === undefined) {
    throw new UsageError("--no-plain needs --tls-cert and --tls-key");
  }
  const options: ServerOptions & { help: boolean } = {
    help,
    hostname: text("host") ?? DEFAULT_HOST,
    port,
    name: text("name") ?? "tern",
    limits: limits.limits,
    logger: new Logger(
      level as LogLevel,
      format as LogFormat,
      new PipeSink(Deno.stderr, limits.limits.logBufferBytes),
    ),
  };
  options.web = readWebOptions(values, certPath !== undefined);
  if (help) return options;
  if (certPath !== undefined && keyPath !== undefined) {
    options.tls = {
      cert: readFile("tls-cert", certPath),
      key: readFile("tls-key", keyPath),
      port: readPort("tls-port", text("tls-port") ?? "", DEFAULT_TLS_PORT),
    };
  }
  const password = text("password") ?? readEnv(PASSWORD_ENV);
  if (password !== undefined) options.password = password;
  const operatorPassword = text("op-password") ?? readEnv(OPER_PASSWORD_ENV);
  if (operatorPassword !== undefined) {
    options.operatorPassword = operatorPassword;
  }
  options.database = text("db") ?? defaultDatabaseFile();
  if (parsed.values["throttle-loopback"] === true) {
    options.throttleLoopback = true;
  }
  const redis = text("redis") ?? readEnv(REDIS_URL_ENV);
  if (redis !== undefined && redis !== "") {
    options.redis = readRedisUrl(redis);
  }
  const motdPath = text("motd");
  if (motdPath !== undefined) {
    options.motd = readFile("motd", motdPath).split(/\r?\n/);
    options.motdFile = motdPath;
  }
  return options;
}
