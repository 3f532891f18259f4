// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The decoded packet shape and the one table-driven encoder.
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import { HEADER_SIZE, MAGIC_REQ, MAGIC_RES, type Magic } from "./constants.ts";
import { ARG_COUNTS, checkPacketType, type PacketTypeNumber, packetTypeName } from "./packet-types.ts";
import { encoder, utf8 } from "./bytes.ts";

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
/** The buffer a writer fills batch after batch (several flushes per allocation; little held by an idle connection). */
const SLAB = 4096;
/** Below this much room after a `take`, the next batch starts a new slab. */
const MIN_ROOM = 256;

/**
 * Appends encoded packets to one growing buffer, so that everything queued in one turn of the event
 * loop leaves in one write. `take()` hands out the batch (owned by the caller) and starts the next.
 */
export class PacketWriter {
  #buf: Uint8Array<ArrayBuffer>;
  #view: DataView;
  /** Where the bytes not yet taken begin: everything before was handed out by `take`. */
  #start = 0;
  #len = 0;

  /** `initialSize` bytes are allocated at once (a one-shot writer sizes it exactly); by default on first write. */
  constructor(initialSize = 0) {
    this.#buf = initialSize > 0 ? new Uint8Array(initialSize) : EMPTY;
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.#len - this.#start;
  }
  /** Encodes one packet. Throws before writing anything if the type or the fields are invalid (as {@link encodePacket}). */
  write(type: number, args: readonly PacketArg[], magic: Magic = "req"): void {
    checkPacketType(type);
    const count = ARG_COUNTS[type]!;
    if (args.length !== count) throw new InvalidArgumentError(`${packetTypeName(type)} takes ${count} fields, got ${args.length}`);
    let max = HEADER_SIZE + Math.max(0, args.length - 1);
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (i < args.length - 1 && (typeof a === "string" ? a.includes("\0") : a.includes(0))) {
        throw new InvalidArgumentError(`field ${i + 1} of ${packetTypeName(type)} contains NUL (only the last may)`);
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

  /**
   * Returns everything written since the last `take` and starts a new batch. The returned bytes belong
   * to the caller (a transport may hold them until the socket has sent them) and are never written
   * again: the next batch goes into the room after them, so one allocation serves many flushes.
   */
  take(): Uint8Array<ArrayBuffer> {
    const out = this.#buf.subarray(this.#start, this.#len);
    if (this.#buf.length - this.#len < MIN_ROOM || this.#buf.length > SLAB) {
      // Little room left, or a buffer grown for one big batch: the next write starts a fresh slab.
      this.#buf = EMPTY;
      this.#len = 0;
    }
    this.#start = this.#len;
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
    return i + encoder.encodeInto(s.slice(i), buf.subarray(off + i)).written;
  }

  #reserve(extra: number): void {
    if (this.#len + extra <= this.#buf.length) return;
    // The pending batch moves to a new buffer; taken bytes stay where their owners hold them.
    const pending = this.#len - this.#start;
    let size = Math.max(SLAB, this.#buf.length);
    while (size < pending + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(this.#start, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
    this.#start = 0;
    this.#len = pending;
  }
}

/**
 * Encodes one packet into a new buffer; strings are written as UTF-8. No size limit is applied here.
 * @throws {ProtocolError} (`unknown_type`) for a type outside 1..42.
 * @throws {InvalidArgumentError} for the wrong number of fields, or a NUL in any field but the last.
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
