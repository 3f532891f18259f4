// Types of playground/server.mjs, for the browser tests (tsc does not read .mjs files).

/** Which job server the playground talks to. */
export interface PlaygroundUpstream {
  /** `gearmand`: started by the playground; `embedded`: the SDK's job server; `external`: GEARMAN_SERVERS. */
  kind: "gearmand" | "embedded" | "external";
  /** `host:port` the bridge and the status endpoint connect to. */
  address: string;
  /** What the admin `version` command answered. */
  version: string;
  /** One sentence for the page. */
  detail: string;
}

/** Options of {@link startPlayground}. */
export interface PlaygroundOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /**
   * `"host:port"` / `"tcp://host:port"` of a running job server, `"gearmand"` to start one,
   * `"embedded"` for the embedded job server, or `"auto"`/undefined: gearmand if installed, else embedded.
   */
  upstream?: string;
  /** Do not log bridge connections. @default false */
  quiet?: boolean;
  /** Where bridge connection log entries go. @default one line on stderr */
  bridgeLog?: (entry: { type: string; [key: string]: unknown }) => void;
}

/** A running playground. */
export interface Playground {
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  port: number;
  upstream: PlaygroundUpstream;
  /** Stops the bridge, the page server and a gearmand it started. */
  close(): Promise<void>;
}

/** Starts the page server with the bridge mounted at /gearman. */
export function startPlayground(options?: PlaygroundOptions): Promise<Playground>;

/** Bundles playground/main.ts into playground/dist/main.js; resolves with the file path. */
export function buildPage(): Promise<string>;

/** The gearmand binary on PATH or in the usual sbin/bin directories, if any. */
export function findGearmand(): string | undefined;
