// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Byte helpers shared by the codec and the core: UTF-8 in and out, concatenation.
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A payload as the public API accepts it: bytes as they are, or a string sent as UTF-8. */
export type Payload = Uint8Array | string;

/** Encodes a string as UTF-8; bytes are returned as they are (never copied). */
export function toBytes(value: Payload): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}

/** Decodes UTF-8 bytes (an empty field, such as a missing unique, without a TextDecoder call). */
export function utf8(bytes: Uint8Array): string {
  return bytes.length === 0 ? "" : decoder.decode(bytes);
}

/** Byte length of a string once encoded as UTF-8, without encoding it. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair is 2 UTF-16 units and 4 UTF-8 bytes; a lone surrogate becomes U+FFFD (3 bytes).
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
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
