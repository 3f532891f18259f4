// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Random UUIDs for libgearman-compatible uniques. `crypto.randomUUID` needs a secure context in
 * browsers, so fall back to `getRandomValues`, then to Math.random.
 * @module
 */

/** A random RFC 4122 version-4 UUID. */
export function randomUuid(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c?.randomUUID) {
    try {
      return c.randomUUID();
    } catch { /* insecure context: fall through */ }
  }
  const b = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
