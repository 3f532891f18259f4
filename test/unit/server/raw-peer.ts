// Node (tests): a raw Gearman peer for server tests — sends encoded packets or admin text and
// records every reply byte-exactly (binary packets split by the PACKET_ARGS table, text lines
// with their line endings), over an in-memory pair or a TCP socket.
import { tcpConnector } from "../../../src/transports/tcp-node.ts";
import { createMemoryPair } from "../../../src/transports/memory.ts";
import type { Transport } from "../../../src/core/transport.ts";
import { encodePacket, type PacketArg } from "../../../src/protocol/packet.ts";
import { isPacketType, PACKET_ARGS, packetTypeName } from "../../../src/protocol/packet-types.ts";
import type { JobServer } from "../../../src/server/server.ts";

/** A reply as a readable string: `NAME a|b|c` for packets (fields latin1, `\0` escaped), `TEXT "…"` for lines. */
export type Reply = string;

function field(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return s.replaceAll("\0", "\\0");
}

/** Formats one binary packet the way {@link Reply} does. */
export function formatPacket(type: number, body: Uint8Array, magic = "RES"): Reply {
  const k = isPacketType(type) ? PACKET_ARGS[type].length : 1;
  const args: string[] = [];
  let start = 0;
  for (let i = 0; i < k - 1; i++) {
    const nul = body.indexOf(0, start);
    if (nul < 0) break;
    args.push(field(body.subarray(start, nul)));
    start = nul + 1;
  }
  if (k > 0) args.push(field(body.subarray(start)));
  const head = magic === "RES" ? packetTypeName(type) : `${magic}:${packetTypeName(type)}`;
  return args.length === 0 || (k === 0 && body.length === 0) ? head : `${head} ${args.join("|")}`;
}

/** One connection to a server under test. */
export class RawPeer {
  readonly replies: Reply[] = [];
  #buf = new Uint8Array(4096);
  #len = 0;
  #transport: Transport;
  #waiters: Array<() => void> = [];
  #closed = false;
  readonly closedPromise: Promise<void>;

  constructor(transport: Transport) {
    this.#transport = transport;
    let done!: () => void;
    this.closedPromise = new Promise((r) => (done = r));
    transport.start({
      data: (chunk) => this.#data(chunk),
      drain: () => {},
      closed: () => {
        this.#closed = true;
        this.replies.push("CLOSED");
        done();
        this.#notify();
      },
    });
  }

  /** A peer attached to `server` through an in-memory pair. */
  static memory(server: JobServer, highWaterMark?: number): RawPeer {
    const [a, b] = createMemoryPair(highWaterMark === undefined ? {} : { highWaterMark });
    server.attach(b, { address: "127.0.0.1" });
    return new RawPeer(a);
  }

  /** A peer connected over TCP. */
  static async tcp(port: number): Promise<RawPeer> {
    return new RawPeer(await tcpConnector(`127.0.0.1:${port}`)());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get transport(): Transport {
    return this.#transport;
  }

  /** Sends one packet (`\0REQ` unless told). */
  send(type: number, args: readonly PacketArg[] = [], magic: "req" | "res" = "req"): this {
    this.#transport.write(encodePacket(type, args, magic));
    return this;
  }

  /** Sends raw bytes or an admin line (CRLF added to strings). */
  raw(data: Uint8Array | string): this {
    const bytes = typeof data === "string" ? new TextEncoder().encode(`${data}\r\n`) : data;
    this.#transport.write(new Uint8Array(bytes));
    return this;
  }

  /** Waits until at least `n` replies are buffered (or the peer closed), then takes them. */
  async take(n: number, timeoutMs = 2000): Promise<Reply[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < n && !this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${n} replies, got ${JSON.stringify(this.replies)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.replies.splice(0, n);
  }

  /** Waits until a reply matching `pred` has arrived (or the peer closed). */
  async until(pred: (r: Reply) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.replies.some(pred) && !this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a reply; got ${JSON.stringify(this.replies)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Takes whatever arrived. */
  drain(): Reply[] {
    return this.replies.splice(0);
  }

  /** Waits `ms` and takes whatever arrived. */
  async settle(ms = 30): Promise<Reply[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.drain();
  }

  close(): void {
    this.#transport.close();
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #data(chunk: Uint8Array): void {
    if (this.#len + chunk.length > this.#buf.length) {
      // Grow by doubling so that a large reply arriving in many chunks is not copied over and over.
      const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + chunk.length));
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    this.#buf.set(chunk, this.#len);
    this.#len += chunk.length;
    const merged = this.#buf.subarray(0, this.#len);
    let off = 0;
    while (off < merged.length) {
      if (merged[off] !== 0) {
        const nl = merged.indexOf(0x0a, off);
        if (nl < 0) break;
        this.replies.push(`TEXT ${JSON.stringify(field(merged.subarray(off, nl + 1)))}`);
        off = nl + 1;
        continue;
      }
      if (merged.length - off < 12) break;
      const view = new DataView(merged.buffer, merged.byteOffset + off);
      const magic = view.getUint32(0) === 0x00524553 ? "RES" : view.getUint32(0) === 0x00524551 ? "REQ" : "BAD";
      const type = view.getUint32(4);
      const len = view.getUint32(8);
      if (merged.length - off < 12 + len) break;
      this.replies.push(formatPacket(type, merged.subarray(off + 12, off + 12 + len), magic));
      off += 12 + len;
    }
    if (off > 0) {
      this.#buf.copyWithin(0, off, this.#len);
      this.#len -= off;
    }
    this.#notify();
  }
}
