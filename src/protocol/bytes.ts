// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Byte helpers shared by the codec and the core: UTF-8 in and out, concatenation.
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";

/** The one UTF-8 encoder of the codec (stateless, so shared). */
export const encoder: TextEncoder = new TextEncoder();
const decoder = new TextDecoder();

/** A payload as the public API accepts it: bytes as they are, or a string sent as UTF-8. */
export type Payload = Uint8Array | string;

/** Encodes a string as UTF-8; bytes are returned as they are (never copied). Throws `InvalidArgumentError` for anything else. */
export function toBytes(value: Payload): Uint8Array {
  if (typeof value === "string") return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  throw new InvalidArgumentError(`a payload must be a string or Uint8Array, got ${typeof value}`);
}

/** Decodes UTF-8 bytes (an empty field, such as a missing unique, without a TextDecoder call). */
export function utf8(bytes: Uint8Array): string {
  return bytes.length === 0 ? "" : decoder.decode(bytes);
}

/** Concatenates byte arrays into one new owned buffer (one allocation, one copy per part). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** True when two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
