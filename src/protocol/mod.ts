// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The Gearman codec: packet types, encoder, incremental decoder, admin text protocol.
 * @module
 */
export * from "./constants.ts";
export * from "./packet-types.ts";
export * from "./packet.ts";
export * from "./decoder.ts";
export * from "./admin.ts";
export * from "./validate.ts";
export { concatBytes, type Payload, toBytes, utf8 } from "./bytes.ts";
