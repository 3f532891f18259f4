// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Wire constants of the Gearman binary protocol.
 * @module
 */

/** Magic of packets sent to the server: `\0REQ`. */
export const MAGIC_REQ: number = 0x00524551;
/** Magic of packets sent by the server: `\0RES`. */
export const MAGIC_RES: number = 0x00524553;
/** Size of the fixed packet header: magic, type, body length. */
export const HEADER_SIZE = 12;
/** The port gearmand listens on by default. */
export const DEFAULT_PORT = 4730;
/** Default cap on one packet's body (64 MiB). A header announcing more is rejected before any buffering. */
export const DEFAULT_MAX_PACKET_SIZE: number = 64 * 1024 * 1024;
/** libgearman's limit on function names, in bytes. */
export const MAX_FUNCTION_NAME_BYTES = 512;
/** The longest unique gearmand stores intact (it truncates 64 to 63 and rejects more). */
export const MAX_UNIQUE_BYTES = 63;
/** Which side a packet travels from. */
export type Magic = "req" | "res";
