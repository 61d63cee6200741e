/**
 * The node-redis connection type, named once so the cluster modules that
 * take a connection (in options, or as an argument) share one public name.
 *
 * @module
 */

import type { RedisClientType } from "npm:redis@5.12.1";

/**
 * A node-redis connection as the cluster makes it (`createClient` with
 * `RESP: 2`, no modules or scripts of our own): commands or subscriber.
 */
export type RedisClient = RedisClientType;
