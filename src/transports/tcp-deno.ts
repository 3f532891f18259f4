// Deno only: Deno.connect.
/**
 * Deno TCP transport: gearmand straight from Deno where the script may open sockets (no bridge).
 * @module
 */
import { ConnectionError } from "../errors.ts";
import type { Connector, Transport, TransportSink } from "../core/transport.ts";
import { formatServerAddress, parseServerAddress, type TcpOptions } from "./address.ts";
import { connectAttempt } from "./attempt.ts";

// Over HIGH_WATER queued bytes `write` returns false; close() lets queued writes drain for CLOSE_DEADLINE ms, then drops
// a connection whose peer stopped reading (as on Node).
const HIGH_WATER = 1 << 20, CLOSE_DEADLINE = 2000;

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
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(conn: Deno.TcpConn, remote: string) {
    this.#conn = conn;
    this.remote = remote;
  }

  start(sink: TransportSink): void {
    this.#sink = sink;
    void this.#readLoop();
  }

  write(bytes: Uint8Array<ArrayBuffer>): boolean {
    if (this.#done) return true; // the connection is gone: nothing more goes out
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!this.#writing) void this.#writeLoop();
    return this.#queued < HIGH_WATER;
  }

  pause(): void {
    this.#paused ??= Promise.withResolvers<void>();
  }

  resume(): void {
    this.#paused?.resolve();
    this.#paused = undefined;
  }

  close(): void {
    if (this.#closing || this.#done) return;
    this.#closing = true;
    // A paused reader must go on, to see the close and report it.
    this.resume();
    if (!this.#writing) return this.#shutdown();
    // Queued writes go first, but a peer that stopped reading must not hold the socket (and close()) forever.
    this.#closeTimer = setTimeout(() => this.#shutdown(), CLOSE_DEADLINE);
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
        if (before >= HIGH_WATER && this.#queued < HIGH_WATER && !this.#closing) this.#sink?.drain();
      }
    } catch (err) {
      // After close() a failed write is the deadline dropping the connection: a local close, not an error.
      const message = `write to ${this.remote} failed: ${(err as Error).message}`;
      this.#finish(this.#closing ? undefined : new ConnectionError(message, { cause: err, server: this.remote }));
    }
    this.#writing = false;
    if (this.#closing) this.#shutdown();
  }

  #shutdown(): void {
    clearTimeout(this.#closeTimer);
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  #finish(error: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#queue.length = 0;
    this.#queued = 0;
    this.#shutdown();
    this.#sink?.closed(error);
  }
}

/** True for Deno's refusal of a permission (`--allow-net`), which no retry or running server cures. */
function isPermissionError(err: unknown): boolean {
  // NotCapable is Deno 2's; Deno 1 had PermissionDenied only.
  const { NotCapable, PermissionDenied } = Deno.errors as Partial<typeof Deno.errors>;
  return [NotCapable, PermissionDenied].some((E) => E !== undefined && err instanceof E);
}

/**
 * A connector for one gearmand over Deno TCP (needs `--allow-net`). The connect attempt ends after
 * `options.connectTimeout` ms (default 10000) or when the connector's signal aborts.
 * @throws {InvalidArgumentError} for an address that is not `host:port`, `[ipv6]:port` or `tcp://host:port`.
 */
export function denoTcpConnector(server: string, options: TcpOptions = {}): Connector {
  const { host, port } = parseServerAddress(server);
  const remote = `tcp://${formatServerAddress(host, port)}`;
  const timeout = options.connectTimeout ?? 10_000;
  return (signal?: AbortSignal) =>
    connectAttempt(signal, timeout, `no answer within ${timeout} ms`, (settle) => {
      // Deno.connect has no deadline of its own: a host that drops SYNs would hold it for minutes.
      const attempt = new AbortController();
      const fail = (why: string, cause: unknown = new Error(why)): void => {
        attempt.abort();
        // Deno's own message names the missing flag; "is it running?" would send the reader the wrong way.
        const hint = isPermissionError(cause) || why === "connect aborted" ? "" : "; is it running?";
        settle(new ConnectionError(`cannot connect to gearmand at ${remote}: ${why}${hint}`, { cause, server: remote }));
      };
      Deno.connect({ hostname: host, port, transport: "tcp", signal: attempt.signal }).then((conn) => {
        if (attempt.signal.aborted) return conn.close();
        conn.setNoDelay(true);
        settle(new DenoTcpTransport(conn, remote));
      }, (err: Error) => attempt.signal.aborted || fail(err.message, err));
      return fail;
    });
}
