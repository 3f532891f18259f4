// Deno only: Deno.connect.
/**
 * Deno TCP transport: gearmand straight from Deno where the script may open sockets (no bridge).
 * @module
 */
import { ConnectionError } from "../errors.ts";
import type { Connector, Transport, TransportSink } from "../core/transport.ts";
import { formatServerAddress, parseServerAddress } from "./address.ts";

class DenoTcpTransport implements Transport {
  readonly remote: string;
  #conn: Deno.TcpConn;
  #queue: Uint8Array<ArrayBuffer>[] = [];
  #queued = 0;
  #writing = false;
  #closing = false;
  #paused: PromiseWithResolvers<void> | undefined;
  #sink: TransportSink | undefined;
  #done = false;

  constructor(conn: Deno.TcpConn, remote: string) {
    this.#conn = conn;
    this.remote = remote;
  }

  start(sink: TransportSink): void {
    this.#sink = sink;
    void this.#readLoop();
  }

  write(bytes: Uint8Array<ArrayBuffer>): boolean {
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!this.#writing) void this.#writeLoop();
    return this.#queued < 1 << 20;
  }

  pause(): void {
    this.#paused ??= Promise.withResolvers<void>();
  }

  resume(): void {
    this.#paused?.resolve();
    this.#paused = undefined;
  }

  close(): void {
    this.#closing = true;
    if (!this.#writing) this.#shutdown();
  }

  async #readLoop(): Promise<void> {
    let error: Error | undefined;
    try {
      while (true) {
        if (this.#paused) await this.#paused.promise;
        const buf = new Uint8Array(65536);
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.#sink!.data(buf.subarray(0, n));
      }
    } catch (err) {
      if (!this.#closing) error = new ConnectionError(`connection to ${this.remote} failed: ${(err as Error).message}`, { cause: err, server: this.remote });
    }
    this.#finish(error);
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const chunk = this.#queue.shift()!;
        let off = 0;
        while (off < chunk.length) off += await this.#conn.write(chunk.subarray(off));
        const before = this.#queued;
        this.#queued -= chunk.length;
        if (before >= 1 << 20 && this.#queued < 1 << 20) this.#sink?.drain();
      }
    } catch (err) {
      this.#finish(new ConnectionError(`write to ${this.remote} failed: ${(err as Error).message}`, { cause: err, server: this.remote }));
    }
    this.#writing = false;
    if (this.#closing) this.#shutdown();
  }

  #shutdown(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  #finish(error: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#shutdown();
    this.#sink?.closed(error);
  }
}

/** A connector for one gearmand over Deno TCP (needs `--allow-net`). */
export function denoTcpConnector(server: string): Connector {
  const { host, port } = parseServerAddress(server);
  const remote = `tcp://${formatServerAddress(host, port)}`;
  return async () => {
    try {
      const conn = await Deno.connect({ hostname: host, port, transport: "tcp" });
      conn.setNoDelay(true);
      return new DenoTcpTransport(conn, remote);
    } catch (err) {
      throw new ConnectionError(`cannot connect to gearmand at ${remote}: ${(err as Error).message}; is it running?`, { cause: err, server: remote });
    }
  };
}
