// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * Decimal fields read the way gearmand reads them (C `strtol`/`atoi`), so that odd values from
 * peers give the same answers: leading blanks and a sign are allowed, parsing stops at the first
 * non-digit, and no digits at all means 0.
 * @module
 */

/** The result of {@link parseCLong}: the value, or `overflow` when C would set ERANGE. */
export interface CLong {
  /** The value when it fits in a signed 64-bit long; saturated otherwise. */
  value: bigint;
  /** True when the digits do not fit in a signed 64-bit long. */
  overflow: boolean;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

function isBlank(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Reads a decimal field as C `strtol` on a 64-bit long does, looking at most at `limit` bytes. */
export function parseCLong(bytes: Uint8Array, limit: number = bytes.length): CLong {
  const end = Math.min(limit, bytes.length);
  let i = 0;
  while (i < end && isBlank(bytes[i]!)) i++;
  let negative = false;
  if (i < end && (bytes[i] === 0x2b || bytes[i] === 0x2d)) negative = bytes[i++] === 0x2d;
  const start = i;
  while (i < end && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) i++;
  if (i === start) return { value: 0n, overflow: false };
  // 15 digits always fit a double exactly, so the common case avoids BigInt parsing of a string.
  let value: bigint;
  if (i - start <= 15) {
    let n = 0;
    for (let k = start; k < i; k++) n = n * 10 + (bytes[k]! - 0x30);
    value = BigInt(n);
  } else {
    let s = "";
    for (let k = start; k < i; k++) s += String.fromCharCode(bytes[k]!);
    value = BigInt(s);
  }
  if (negative) value = -value;
  if (value > INT64_MAX) return { value: INT64_MAX, overflow: true };
  if (value < INT64_MIN) return { value: INT64_MIN, overflow: true };
  return { value, overflow: false };
}

/**
 * A WORK_STATUS numerator or denominator as gearmand stores it: `(uint32_t)atoi(text)`, which
 * keeps the low 32 bits of the saturated long. gearmand reads only the first 10 bytes of the
 * denominator (pass `limit`).
 */
export function statusNumber(bytes: Uint8Array, limit?: number): number {
  return Number(BigInt.asUintN(32, parseCLong(bytes, limit).value));
}
