/**
 * Where a program finds a tern server and its secrets: the default address
 * and ports, the environment variable for the server password, and the
 * one-line error wording both command lines use. Shared by server, client and
 * bots, so their defaults cannot drift apart.
 *
 * @module
 */

/** Default TCP port. */
export const DEFAULT_PORT = 7000;

/** Default TLS port, used when a certificate is given. */
export const DEFAULT_TLS_PORT = 7443;

/** Default port of the web client and its WebSocket. */
export const DEFAULT_HTTP_PORT = 7080;

/** Default HTTPS port of the web client, used when a certificate is given. */
export const DEFAULT_HTTPS_PORT = 7444;

/** Default listen address: loopback, so exposing the server is a choice. */
export const DEFAULT_HOST = "127.0.0.1";

/** Environment variable holding the server password. */
export const PASSWORD_ENV = "TERN_PASSWORD";

/** The first line of an error's message: flag errors are one line. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]!;
}

/**
 * An environment variable's value, or undefined when unset or not permitted.
 * The permission is queried first: reading without it would make Deno stop
 * and prompt in a terminal.
 */
export function readEnv(name: string): string | undefined {
  const status = Deno.permissions.querySync({ name: "env", variable: name });
  if (status.state !== "granted") return undefined;
  const value = Deno.env.get(name);
  return value === "" ? undefined : value;
}
