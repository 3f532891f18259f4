// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Random UUIDs for uniques, from `crypto.getRandomValues`, which every runtime has (unlike
 * `crypto.randomUUID`, which browsers keep to secure contexts). The random bytes are drawn 4 KiB at
 * a time: one call per UUID cost more than the rest of a background submit.
 * @module
 */

let pool = new Uint8Array(0);
let used = 0;

/** A random RFC 4122 version-4 UUID. */
export function randomUuid(): string {
  if (used >= pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(4096));
    used = 0;
  }
  const b = pool.subarray(used, (used += 16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  let h = "";
  for (const x of b) h += (x + 256).toString(16).slice(1);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
