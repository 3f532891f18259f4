// Browser (playground): the Connection header (job server, bridge, this tab) and the bridge URL the
// tab's Worker and Client dial. Both come from the page server's /api/config.
import { $ } from "./dom.ts";
import { errorMessage, formatBytes } from "./format.ts";

/** What /api/config answers (playground/server.mjs). */
interface Config {
  sdkVersion: string;
  bridgePath: string;
  /** The bridge's packet limit in bytes: a larger message closes the connection (1009). */
  maxPacketSize: number;
  upstream: { kind: "gearmand" | "embedded" | "external"; address: string; version: string; detail: string };
}

const UPSTREAM_NAMES = { gearmand: "gearmand", embedded: "the embedded job server", external: "gearmand (GEARMAN_SERVERS)" };

function newTabId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return [...bytes].map((b) => b.toString(36).padStart(2, "0")).join("").slice(0, 6);
}

/** This tab's id. The bridge names the tab's connections `tab-<id>`, which the server panel shows. */
export const tabId: string = newTabId();

/** This tab's bridge principal: server.mjs names it after the tab id; the bridge files its uniques as `<principal>:<unique>`. */
export const principal: string = `tab-${tabId}`;

let url = "";
let packetLimit = 0;

/** The bridge URL with this tab's id; empty until showConnection() has read the config. */
export function bridgeUrl(): string {
  return url;
}

/** The bridge's packet limit in bytes (0 until showConnection() has read the config). */
export function bridgePacketLimit(): number {
  return packetLimit;
}

/**
 * Reads /api/config and fills in the header. Resolves false, with the reason in the header, when the
 * page server did not answer.
 */
export async function showConnection(): Promise<boolean> {
  $("tab-id").textContent = principal;
  let config: Config;
  try {
    config = (await (await fetch("/api/config", { cache: "no-store" })).json()) as Config;
  } catch (err) {
    $("upstream").textContent = `cannot read /api/config: ${errorMessage(err)}`;
    return false;
  }
  const u = config.upstream;
  const upstream = $("upstream");
  upstream.dataset.kind = u.kind;
  upstream.textContent = `${UPSTREAM_NAMES[u.kind]} ${u.version} at ${u.address}`;
  upstream.title = u.detail;
  // The bridge shares the page's origin: the page's CSP allows connect-src 'self' only.
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  url = `${scheme}//${location.host}${config.bridgePath}?tab=${tabId}`;
  $("bridge-url").textContent = `${scheme}//${location.host}${config.bridgePath}`;
  packetLimit = config.maxPacketSize;
  $("payload-limit").textContent = `At most ${formatBytes(packetLimit)} per job (payload, function name and unique): the bridge's packet limit.`;
  return true;
}
