// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Byte-exact string keys. Function names, uniques and client ids are arbitrary bytes on the wire;
 * reading them one byte per UTF-16 unit (latin1) gives map keys and admin text that round-trip
 * every byte, which UTF-8 decoding would not.
 * @module
 */

/** Reads bytes as a latin1 string: one character per byte. */
export function latin1(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n <= 64) {
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  }
  let s = "";
  // fromCharCode.apply takes arguments on the stack, so long inputs go in slices.
  for (let i = 0; i < n; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(n, i + 8192)) as unknown as number[]);
  }
  return s;
}

/** Writes a latin1 string back to the bytes it came from. */
export function latin1Bytes(s: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/**
 * Bytes to keep past the current packet. Received chunks belong to the server, so a view that
 * covers most of its buffer (a large workload, which the decoder assembles in a buffer of its
 * own) is kept as is; a small view is copied, so that it does not pin a whole socket chunk.
 */
export function keepBytes(bytes: Uint8Array): Uint8Array {
  return bytes.length * 2 >= bytes.buffer.byteLength ? bytes : bytes.slice();
}
