// Browser (playground): how packet fields read on screen: named after protocol.h's argument order,
// shown as text when printable, else as hex. Used by the packet inspector, the job list and task cards.
import { PACKET_ARGS, type PacketTypeNumber } from "../src/browser.ts";

const HEX_LIMIT = 4096;
const FIELD_PREVIEW = 48;
const decoder = new TextDecoder("utf-8", { fatal: false });

/** False for control characters other than tab, newline and CR, and for U+FFFD (invalid UTF-8). */
function printable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f || c === 0xfffd) return false;
  }
  return true;
}

/** Shows a field as text when it is printable UTF-8, else as a short hex string. */
export function fieldText(bytes: Uint8Array): string {
  const s = decoder.decode(bytes.subarray(0, FIELD_PREVIEW * 4));
  if (!printable(s)) {
    const hex = [...bytes.subarray(0, FIELD_PREVIEW / 2)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    return `0x[${hex}${bytes.length > FIELD_PREVIEW / 2 ? " …" : ""}]`;
  }
  const one = s.replace(/\n/g, "⏎").replace(/\t/g, "⇥");
  return JSON.stringify(one.length > FIELD_PREVIEW ? `${one.slice(0, FIELD_PREVIEW)}…` : one);
}

/** A classic hex dump: offset, 16 bytes, printable ASCII. */
export function hexDump(bytes: Uint8Array, limit: number = HEX_LIMIT): string {
  const lines: string[] = [];
  const n = Math.min(bytes.length, limit);
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${off.toString(16).padStart(6, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (bytes.length > limit) lines.push(`… ${bytes.length - limit} more bytes`);
  return lines.join("\n");
}

/** The argument names of a packet type, in wire order; empty for unknown types. */
export function fieldNames(type: number): readonly string[] {
  return PACKET_ARGS[type as PacketTypeNumber] ?? [];
}
