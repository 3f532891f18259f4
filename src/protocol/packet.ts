// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The decoded packet shape and the one table-driven encoder.
 * @module
 */
import { InvalidArgumentError, ProtocolError } from "../errors.ts";
import { HEADER_SIZE, MAGIC_REQ, MAGIC_RES, type Magic } from "./constants.ts";
import { ARG_COUNTS, isPacketType, type PacketTypeNumber, packetTypeName } from "./packet-types.ts";
import { utf8 } from "./bytes.ts";

/**
 * One decoded packet. `args` follow {@link PACKET_ARGS} for `type`; every argument is a view of the
 * received bytes (no copy). Type 0 is an admin text line (server side only), its one argument the line.
 */
export interface Packet {
  /** Packet type number (see `PacketType`), or 0 for an admin text line. */
  readonly type: PacketTypeNumber | 0;
  /** `req` for `\0REQ` (to the server), `res` for `\0RES` (from the server). */
  readonly magic: Magic;
  /** The fields, in wire order. */
  readonly args: readonly Uint8Array[];
}

/** An argument as the encoder accepts it. Strings are written as UTF-8. */
export type PacketArg = Uint8Array | string;

/** Reads argument `i` of a packet as a UTF-8 string ("" when absent). */
export function argText(packet: Packet, i: number): string {
  const a = packet.args[i];
  return a === undefined ? "" : utf8(a);
}

const EMPTY = new Uint8Array(0);

/**
 * Appends encoded packets to one growing buffer, so that everything queued in one turn of the event
 * loop leaves in one write. `take()` hands out the bytes (owned by the caller) and starts afresh.
 */
export class PacketWriter {
  #buf: Uint8Array<ArrayBuffer>;
  #view: DataView;
  #len = 0;
  #encoder = new TextEncoder();

  constructor(initialSize = 4096) {
    this.#buf = new Uint8Array(initialSize);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.#len;
  }

  /** Encodes one packet. Throws before writing anything if the type or the fields are invalid. */
  write(type: number, args: readonly PacketArg[], magic: Magic = "req"): void {
    if (!isPacketType(type)) {
      throw new ProtocolError("unknown_type", `cannot encode packet type ${type}: gearmand knows types 1 to 42 only`);
    }
    const count = ARG_COUNTS[type]!;
    if (args.length !== count) {
      throw new InvalidArgumentError(`${packetTypeName(type)} takes ${count} fields (see PACKET_ARGS), got ${args.length}`);
    }
    let max = HEADER_SIZE + Math.max(0, args.length - 1);
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (i < args.length - 1 && (typeof a === "string" ? a.includes("\0") : a.includes(0))) {
        throw new InvalidArgumentError(
          `field ${i + 1} of ${packetTypeName(type)} contains a NUL byte; only the last field may`,
        );
      }
      max += typeof a === "string" ? a.length * 3 : a.length;
    }
    this.#reserve(max);
    const start = this.#len;
    let off = start + HEADER_SIZE;
    const buf = this.#buf;
    for (let i = 0; i < args.length; i++) {
      if (i > 0) buf[off++] = 0;
      const a = args[i]!;
      if (typeof a === "string") {
        off += this.#writeString(a, off);
      } else {
        buf.set(a, off);
        off += a.length;
      }
    }
    this.#view.setUint32(start, magic === "req" ? MAGIC_REQ : MAGIC_RES);
    this.#view.setUint32(start + 4, type);
    this.#view.setUint32(start + 8, off - start - HEADER_SIZE);
    this.#len = off;
  }

  /** Appends raw bytes (an admin text command, say). */
  writeRaw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  /** Returns everything written so far as an owned buffer and resets the writer. */
  take(): Uint8Array<ArrayBuffer> {
    const out = this.#buf.subarray(0, this.#len);
    // The taken bytes now belong to the caller (a transport may hold them); the next write
    // allocates afresh, so a one-shot writer (encodePacket, a relay's per-message writer) never does.
    this.#buf = EMPTY;
    this.#len = 0;
    return out;
  }

  #writeString(s: string, off: number): number {
    const buf = this.#buf;
    const n = s.length;
    // ASCII fast path: names, handles and uniques are nearly always ASCII.
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[off + i] = c;
    }
    if (i === n) return n;
    return i + this.#encoder.encodeInto(s.slice(i), buf.subarray(off + i)).written;
  }

  #reserve(extra: number): void {
    const need = this.#len + extra;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2 || 4096;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}

/**
 * Encodes one packet into a new buffer.
 * @example
 * ```ts
 * const bytes = encodePacket(PacketType.SUBMIT_JOB, ["reverse", "", "hello"]);
 * ```
 */
export function encodePacket(type: number, args: readonly PacketArg[], magic: Magic = "req"): Uint8Array<ArrayBuffer> {
  let size = HEADER_SIZE + args.length;
  for (const a of args) size += typeof a === "string" ? a.length * 3 : a.length;
  const w = new PacketWriter(size);
  w.write(type, args, magic);
  return w.take();
}
