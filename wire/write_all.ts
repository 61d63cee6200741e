/**
 * Writing a whole buffer to a socket that may take only part of it: the one
 * I/O helper the server's send queue and the client share.
 *
 * @module
 */

/** The one thing the queue needs from a socket. */
export interface ByteWriter {
  /** May write only part of `bytes`; resolves to how many were taken. */
  write(bytes: Uint8Array): Promise<number>;
  /**
   * Hands the socket what it takes now, without waiting: the count, 0 when
   * it is full (then `write` waits for it). Only some sockets can
   * (server/net/libc_socket.ts).
   * @throws when the connection is reset or closed
   */
  tryWrite?(bytes: Uint8Array): number;
}

/**
 * Writes all of `bytes`, continuing after partial writes.
 * @throws whatever the writer throws (a reset peer, a closed socket)
 */
export async function writeAll(
  writer: ByteWriter,
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await writer.write(bytes.subarray(offset));
  }
}
