// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * One server-side connection: bytes in through the protocol decoder, packets out through one
 * PacketWriter flushed once per microtask turn, and backpressure both ways. When the transport
 * reports congestion the server stops reading from that peer until it drains, and a peer that
 * lets more than `maxOutputBuffer` bytes pile up is disconnected, so no peer can grow the server
 * without bound.
 * @module
 */
import type { Transport } from "../core/transport.ts";
import { PacketDecoder } from "../protocol/decoder.ts";
import { AdminLineReader } from "../protocol/admin.ts";
import { type Packet, type PacketArg, PacketWriter } from "../protocol/packet.ts";
import { latin1Bytes } from "./latin1.ts";
import type { Ability, Job, Peer } from "./model.ts";
import type { ResolvedServerOptions } from "./options.ts";

/** What the server does with a connection's packets and its end. */
export interface ConnectionHandler {
  /** One decoded packet (type 0 = an admin text line). */
  packet(conn: ServerConnection, packet: Packet): void;
  /** The connection is gone; called once, before anything else is dropped. */
  closed(conn: ServerConnection): void;
}

/** A peer of the job server: client, worker, admin, or all three at once. */
export class ServerConnection implements Peer {
  readonly id: number;
  /** The peer's address as admin `workers` shows it. */
  readonly address: string;
  /** Set by SET_CLIENT_ID; undefined shows as `-`. */
  clientId: string | undefined;
  sleeping = false;
  noopSent = false;
  exceptions: boolean;
  readonly abilities: Ability[] = [];
  readonly held: Job[] = [];
  readonly listening: Set<Job> = new Set();
  readonly #transport: Transport;
  readonly #handler: ConnectionHandler;
  readonly #decoder: PacketDecoder;
  readonly #maxOutput: number;
  readonly #onError: (error: unknown) => void;
  #writer = new PacketWriter();
  #scheduled = false;
  #congested = false;
  #closed = false;
  readonly #flush = (): void => this.#flushNow();

  constructor(id: number, transport: Transport, address: string, options: ResolvedServerOptions, handler: ConnectionHandler) {
    this.id = id;
    this.address = address;
    this.exceptions = options.exceptions;
    this.#transport = transport;
    this.#handler = handler;
    this.#maxOutput = options.maxOutputBuffer;
    this.#onError = options.onError;
    // Any magic is decoded so that a \0RES packet can be answered with INVALID_MAGIC, as gearmand does.
    this.#decoder = new PacketDecoder({ expect: "any", textLines: new AdminLineReader(), maxPacketSize: options.maxPacketSize });
  }

  /** True once closed by either side. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Starts reading. */
  start(): void {
    this.#transport.start({
      data: (chunk) => this.#data(chunk),
      drain: () => this.#drain(),
      closed: () => this.#teardown(),
    });
  }

  /** Queues one response packet. */
  send(type: number, args: readonly PacketArg[]): void {
    if (this.#closed) return;
    this.#writer.write(type, args, "res");
    this.#queued();
  }

  /** Queues admin text (one character per byte). */
  sendText(text: string): void {
    if (this.#closed) return;
    this.#writer.writeRaw(latin1Bytes(text));
    this.#queued();
  }

  /** Closes from the server side: what was queued is still sent, then the transport closes. */
  close(): void {
    if (this.#closed) return;
    this.#flushNow();
    this.#teardown();
    this.#transport.close();
  }

  #data(chunk: Uint8Array): void {
    if (this.#closed) return;
    let packets: Packet[];
    try {
      packets = this.#decoder.push(chunk);
    } catch {
      // Unknown magic or type, oversize, a missing field separator: gearmand closes too (or
      // desynchronises and closes later), and answers nothing from the same read.
      this.close();
      return;
    }
    try {
      for (const packet of packets) {
        if (this.#closed) return;
        this.#handler.packet(this, packet);
      }
    } catch (err) {
      // A bug must cost one connection, not the whole server.
      this.close();
      this.#onError(err);
    }
  }

  #queued(): void {
    if (this.#congested) {
      if (this.#writer.length > this.#maxOutput) {
        // The peer stopped reading while others keep producing for it (WORK_DATA to a client that
        // never reads): drop it rather than buffer without limit.
        this.#teardown();
        this.#transport.close();
      }
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  #flushNow(): void {
    this.#scheduled = false;
    if (this.#congested || this.#closed || this.#writer.length === 0) return;
    if (!this.#transport.write(this.#writer.take())) {
      this.#congested = true;
      this.#transport.pause();
    }
  }

  #drain(): void {
    if (this.#closed || !this.#congested) return;
    this.#congested = false;
    this.#flushNow();
    if (!this.#congested) this.#transport.resume();
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handler.closed(this);
  }
}
