// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The incremental packet decoder: accepts any chunking, checks the size at the header before
 * buffering anything, and fails with a typed {@link ProtocolError} on bad input.
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { DEFAULT_MAX_PACKET_SIZE, HEADER_SIZE, MAGIC_REQ, MAGIC_RES, type Magic } from "./constants.ts";
import { ARG_COUNTS, checkPacketType, type PacketTypeNumber, packetTypeName } from "./packet-types.ts";
import type { Packet } from "./packet.ts";

/** Options of {@link PacketDecoder}. */
export interface DecoderOptions {
  /** Largest body accepted, in bytes. @default DEFAULT_MAX_PACKET_SIZE (64 MiB) */
  maxPacketSize?: number | undefined;
  /** Which magic is valid: `res` on a client or worker, `req` on a server or bridge, `any` to accept both. @default "any" */
  expect?: Magic | "any" | undefined;
  /**
   * Reads admin text lines that arrive at packet boundaries (servers only): pass an
   * `AdminLineReader`. Without one, a byte other than NUL where a packet starts is bad magic.
   */
  textLines?: TextLineReader | undefined;
}

/** Reads admin text lines between packets; `AdminLineReader` is the implementation. */
export interface TextLineReader {
  /** Bytes of a line not complete yet (0 between lines). */
  readonly bufferedBytes: number;
  /** Consumes bytes from `off` through the end of one line (pushed to `out` as a type-0 packet) or of the chunk; returns where it stopped. */
  push(chunk: Uint8Array, off: number, out: Packet[]): number;
}

/**
 * Turns a byte stream into packets.
 * @example
 * ```ts
 * const decoder = new PacketDecoder({ expect: "res" });
 * for (const packet of decoder.push(chunk)) console.log(packetTypeName(packet.type));
 * ```
 */
export class PacketDecoder {
  readonly #max: number;
  readonly #expect: Magic | "any";
  readonly #textLines: TextLineReader | undefined;
  #header = new Uint8Array(HEADER_SIZE);
  #headerFill = 0;
  #body: Uint8Array | undefined;
  #bodyFill = 0;
  #type = 0;
  #magic: Magic = "req";
  #error: ProtocolError | undefined;

  /** A decoder for one byte stream; `options` set the largest packet and the magic to expect. */
  constructor(options: DecoderOptions = {}) {
    this.#max = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    this.#expect = options.expect ?? "any";
    this.#textLines = options.textLines;
  }

  /** Bytes held for a packet not yet complete. Never more than the max packet size plus the header. */
  get bufferedBytes(): number {
    return this.#headerFill + this.#bodyFill + (this.#textLines?.bufferedBytes ?? 0);
  }

  /** True when the stream stands between packets. */
  get idle(): boolean {
    return this.bufferedBytes === 0 && this.#body === undefined;
  }

  /**
   * Feeds bytes; returns the packets they complete.
   * @throws {ProtocolError} for bad magic (or the other side's magic), an unknown type, a body over `maxPacketSize`
   * (at the header, before buffering it) or a wrong field count; after an error, every call throws it again.
   */
  push(chunk: Uint8Array): Packet[] {
    if (this.#error) throw this.#error;
    const out: Packet[] = [];
    let off = 0;
    const n = chunk.length;
    try {
      while (off < n) {
        if (this.#body !== undefined) {
          const take = Math.min(this.#body.length - this.#bodyFill, n - off);
          this.#body.set(chunk.subarray(off, off + take), this.#bodyFill);
          this.#bodyFill += take;
          off += take;
          if (this.#bodyFill === this.#body.length) {
            out.push(this.#packet(this.#body));
            this.#body = undefined;
            this.#bodyFill = 0;
          }
          continue;
        }
        const lines = this.#textLines;
        if (lines && (lines.bufferedBytes > 0 || (this.#headerFill === 0 && chunk[off] !== 0))) {
          off = lines.push(chunk, off, out);
          continue;
        }
        if (this.#headerFill === 0 && n - off >= HEADER_SIZE) {
          // Fast path: the whole header is in this chunk.
          const len = this.#readHeader(chunk, off);
          off += HEADER_SIZE;
          if (n - off >= len) {
            out.push(this.#packet(chunk.subarray(off, off + len)));
            off += len;
          } else {
            this.#body = new Uint8Array(len);
          }
          continue;
        }
        const had = this.#headerFill;
        const take = Math.min(HEADER_SIZE - had, n - off);
        this.#header.set(chunk.subarray(off, off + take), had);
        this.#headerFill += take;
        off += take;
        // Judge the magic as soon as its bytes arrive: a short text reply must not wait for 12 bytes.
        if (had < 4 && (this.#header[0] !== 0 || this.#headerFill >= 4)) this.#readMagic(this.#header, 0, Math.min(this.#headerFill, 4));
        if (this.#headerFill === HEADER_SIZE) {
          this.#headerFill = 0;
          const len = this.#readHeader(this.#header, 0);
          if (len === 0) out.push(this.#packet(new Uint8Array(0)));
          else this.#body = new Uint8Array(len);
        }
      }
    } catch (err) {
      this.#error = err as ProtocolError;
      this.#body = undefined;
      throw err;
    }
    return out;
  }

  /** Declares the end of the stream; throws `truncated` when a packet was cut short. */
  end(): void {
    const body = this.#body;
    if (this.#error || (this.#headerFill === 0 && body === undefined)) return;
    const [where, have, need] = body ? [packetTypeName(this.#type), this.#bodyFill, body.length] : ["a header", this.#headerFill, HEADER_SIZE];
    throw (this.#error = new ProtocolError("truncated", `stream ended inside ${where} (${have} of ${need} bytes)`));
  }

  /** Checks the magic at `off`; `have` (< 4 only when the first byte is already wrong) limits the bytes shown. */
  #readMagic(buf: Uint8Array, off: number, have = 4): Magic {
    const magic = u32(buf, off);
    if (magic !== MAGIC_REQ && magic !== MAGIC_RES) {
      const got = Array.from(buf.subarray(off, off + have), (b) => b.toString(16).padStart(2, "0")).join(" ");
      throw new ProtocolError("bad_magic", `bad magic (${got}): the peer does not speak Gearman`);
    }
    const m: Magic = magic === MAGIC_REQ ? "req" : "res";
    if (this.#expect !== "any" && m !== this.#expect) {
      throw new ProtocolError("bad_magic", `got \\0${m.toUpperCase()} where \\0${this.#expect.toUpperCase()} was expected`);
    }
    return m;
  }

  #readHeader(buf: Uint8Array, off: number): number {
    const m = this.#readMagic(buf, off);
    const type = u32(buf, off + 4);
    const len = u32(buf, off + 8);
    checkPacketType(type);
    if (len > this.#max) {
      throw new ProtocolError("too_large", `${packetTypeName(type)} of ${len} bytes is over maxPacketSize (${this.#max})`);
    }
    this.#type = type;
    this.#magic = m;
    return len;
  }

  #packet(body: Uint8Array): Packet {
    const type = this.#type as PacketTypeNumber;
    const k = ARG_COUNTS[type]!;
    if (k === 0) {
      if (body.length !== 0) throw new ProtocolError("bad_arguments", `${packetTypeName(type)} has no fields, but a body`);
      return { type, magic: this.#magic, args: [] };
    }
    const args: Uint8Array[] = [];
    let start = 0;
    for (let i = 0; i < k - 1; i++) {
      const nul = body.indexOf(0, start);
      if (nul < 0) throw new ProtocolError("bad_arguments", `${packetTypeName(type)} takes ${k} fields, got ${i + 1}`);
      args.push(body.subarray(start, nul));
      start = nul + 1;
    }
    args.push(body.subarray(start));
    return { type, magic: this.#magic, args };
  }
}

/** The big-endian 32-bit number at `off`. */
function u32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}
