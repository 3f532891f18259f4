// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * The one I/O seam. A transport moves bytes and nothing else: it never parses Gearman, and the
 * core decoder accepts any chunking. Every Client, Worker and server connection is handed its
 * transport; there is no global factory.
 * @module
 */

/** Where a transport delivers what happens on it. */
export interface TransportSink {
  /** Bytes arrived. The chunk belongs to the receiver from now on. */
  data(chunk: Uint8Array): void;
  /** The transport's write buffer fell below its low-water mark after `write` returned false. */
  drain(): void;
  /** The transport closed; `error` is set when it closed because something went wrong. Called once. */
  closed(error?: Error): void;
}

/**
 * A connected byte stream (TCP socket, WebSocket, in-memory pipe). Callback-based rather than web
 * streams so that a read costs no promise and a write no allocation; backpressure goes both ways
 * through `write()`'s return value plus `drain`, and `pause()` / `resume()`.
 */
export interface Transport {
  /** Starts delivering events to `sink`. Called exactly once, right after the transport is obtained. */
  start(sink: TransportSink): void;
  /**
   * Queues bytes for sending; the transport now owns them. Returns false once its buffer is above
   * its high-water mark: the caller should hold further writes until `sink.drain()`.
   */
  write(bytes: Uint8Array<ArrayBuffer>): boolean;
  /** Stops reading (the receiver is overwhelmed). */
  pause(): void;
  /** Resumes reading. */
  resume(): void;
  /** Closes after flushing queued writes. `sink.closed()` follows. */
  close(): void;
  /** A printable description of the peer, e.g. `tcp://127.0.0.1:4730`. */
  readonly remote: string;
}

/**
 * Opens one transport to one server; rejects with a `ConnectionError` when it cannot. Once `signal` aborts it must
 * settle soon (reject, or resolve and let the SDK close the transport): `close()` and `stop()` wait for connects still out.
 */
export type Connector = (signal?: AbortSignal) => Promise<Transport>;

/**
 * Maps a server address (`host:port`, `tcp://host:port`, `ws://…`) to a connector. Each runtime
 * entry provides one; tests and custom runtimes may pass their own.
 */
export type ConnectorFactory = (server: string, options?: ConnectorOptions) => Connector;

/** Per-client settings a connector factory may use. */
export interface ConnectorOptions {
  /** Bearer token for `ws://` / `wss://` bridges (sent in `Sec-WebSocket-Protocol`, never in the URL). */
  token?: string | undefined;
}
