// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * One transport seen as a packet stream: decoder on the way in, one batched write per turn of the
 * event loop on the way out, close fan-out. Client and worker state machines sit on top.
 * @module
 */
import { ConnectionError, type GearmanError, InvalidArgumentError, PolicyError, ProtocolError } from "../errors.ts";
import { DEFAULT_MAX_PACKET_SIZE, type Magic } from "../protocol/constants.ts";
import { toBytes } from "../protocol/bytes.ts";
import { PacketDecoder } from "../protocol/decoder.ts";
import { type Packet, type PacketArg, PacketWriter } from "../protocol/packet.ts";
import { type Deferred, deferred, guarded } from "./events.ts";
import { afterThisTurn } from "./schedule.ts";
import type { Transport } from "./transport.ts";

/** What a {@link PacketConnection} reports to its owner. */
export interface ConnectionHandler {
  /** A packet arrived. */
  packet(packet: Packet): void;
  /** The connection is gone; `error` says why (undefined after a local close). Called once. */
  closed(error: GearmanError | undefined): void;
}

/** Options of {@link PacketConnection}. */
export interface PacketConnectionOptions {
  /** Largest packet body accepted. */
  maxPacketSize?: number | undefined;
  /** Magic expected from the peer. @default "res" */
  expect?: Magic | undefined;
  /** Called before each outgoing packet and after each incoming one (the playground's packet inspector). */
  tap?: ((direction: "out" | "in", packet: Packet, server: string) => void) | undefined;
}


/** Queued bytes from which `send` writes at once rather than at the end of the turn. */
const WRITE_NOW = 256 * 1024;

/** A packet-level view of one transport. */
export class PacketConnection {
  readonly remote: string;
  #transport: Transport;
  #handler: ConnectionHandler;
  #decoder: PacketDecoder;
  #writer = new PacketWriter();
  #flushScheduled = false;
  #blocked = false;
  /** Resolved on the transport's drain (or the close): what `send` hands out while the transport pushes back. */
  #drained: Deferred<void> | undefined;
  /** Batches queued while the transport pushed back, each at most about WRITE_NOW bytes. */
  #held: Uint8Array<ArrayBuffer>[] = [];
  #closed = false;
  #closing = false;
  #tap: PacketConnectionOptions["tap"];
  readonly #max: number;

  constructor(transport: Transport, handler: ConnectionHandler, options: PacketConnectionOptions = {}) {
    this.remote = transport.remote;
    this.#transport = transport;
    this.#handler = handler;
    this.#tap = options.tap;
    this.#max = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    this.#decoder = new PacketDecoder({
      maxPacketSize: options.maxPacketSize,
      expect: options.expect ?? "res",
    });
    transport.start({
      data: (chunk) => this.#onData(chunk),
      drain: () => this.#onDrain(),
      closed: (error) => this.#onClosed(error),
    });
  }

  /** True once closed (locally or by the peer). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues a packet; everything queued in this turn leaves in one write. Throws on invalid fields. Past
   * WRITE_NOW queued bytes it writes at once; while the transport pushes back it returns a promise that
   * resolves on drain (or close), which a producer (a worker streaming WORK_DATA) awaits to stay bounded.
   */
  send(type: number, args: readonly PacketArg[]): Promise<void> | undefined {
    if (this.#closed) throw new ConnectionError(`connection to ${this.remote} is closed`, { server: this.remote });
    // After close() the write side is ended: a write would fail and take the replies still due with it. What is
    // sent now is dropped; a request waiting for its reply fails when the close completes.
    if (this.#closing) return undefined;
    // The limit holds both ways: a bridge or a peer with the same limit would drop the connection for such a packet
    // (and gearmand requeue a worker's job, to fail the same way again). Strings count one per UTF-16 unit.
    let size = args.length - 1;
    for (const a of args) size += a.length;
    if (size > this.#max) throw new InvalidArgumentError(`the packet is ${size} bytes, over maxPacketSize`);
    // Whole packets per write, at most about WRITE_NOW bytes unless one packet alone is more: a WebSocket sends
    // each write as one message, and a bridge closes with 1009 on a message over its packet limit.
    if (this.#writer.length + (args[args.length - 1]?.length ?? 0) >= WRITE_NOW) this.#flush(true);
    this.#writer.write(type, args, "req");
    // A tap that throws must not leave a request written but not awaited (another's reply would be paired with it).
    if (this.#tap) guarded(this.#tap, "out", { type: type as Packet["type"], magic: "req", args: args.map(toBytes) }, this.remote);
    this.#scheduleFlush();
    if (this.#writer.length >= WRITE_NOW) this.#flush(true);
    return this.#blocked ? (this.#drained ??= deferred<void>()).promise : undefined;
  }

  /** Flushes what is queued, then closes; with `error`, closes at once and reports the error as the reason. */
  close(error?: GearmanError): void {
    if (error) return this.#fail(error);
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    // Everything queued goes before the close, even while the transport pushes back.
    for (const bytes of this.#held.splice(0)) this.#transport.write(bytes);
    if (this.#writer.length > 0) this.#transport.write(this.#writer.take());
    this.#transport.close();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    afterThisTurn(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Writes what is queued; while the transport pushes back, `full` batches wait in order in `#held`. */
  #flush(full?: boolean): void {
    if (this.#closed || this.#writer.length === 0) return;
    if (!this.#blocked) this.#blocked = !this.#transport.write(this.#writer.take());
    else if (full) this.#held.push(this.#writer.take());
  }

  #onDrain(): void {
    this.#blocked = false;
    while (!this.#blocked && this.#held.length > 0) this.#blocked = !this.#transport.write(this.#held.shift()!);
    // What queued while the transport pushed back goes out now, in one write.
    this.#flush();
    // Producers go on; should this write have filled the transport again, their next send waits anew.
    this.#drained?.resolve();
    this.#drained = undefined;
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    let packets: Packet[];
    try {
      packets = this.#decoder.push(chunk);
    } catch (err) {
      this.#fail(err as ProtocolError);
      return;
    }
    for (const p of packets) {
      if (this.#closed) return;
      if (this.#tap) guarded(this.#tap, "in", p, this.remote);
      this.#handler.packet(p);
    }
  }

  #onClosed(error: Error | undefined): void {
    if (this.#closed) return;
    let err: GearmanError | undefined;
    if (error) err = connectionLost(error, this.remote);
    else if (!this.#closing) {
      try {
        this.#decoder.end();
        err = new ConnectionError(`${this.remote} closed the connection`, { server: this.remote });
      } catch (e) {
        err = e as ProtocolError;
      }
    }
    this.#finish(err);
  }

  #fail(error: GearmanError): void {
    if (this.#closed) return;
    this.#closing = true;
    this.#transport.close();
    this.#finish(error);
  }

  #finish(error: GearmanError | undefined): void {
    this.#closed = true;
    this.#drained?.resolve();
    this.#handler.closed(error);
  }
}

/** How a lost connection is reported: the SDK's own errors as they are, anything else as a `ConnectionError`. */
export function connectionLost(error: Error, server: string): GearmanError {
  return error instanceof ConnectionError || error instanceof ProtocolError || error instanceof PolicyError
    ? error
    : new ConnectionError(`connection to ${server} lost: ${error.message}`, { cause: error, server });
}

