// Browser (playground): the Server panel. Polls the page server's /api/status (built on the admin
// protocol, which the bridge never relays) every second while the tab is visible.
import { tabId } from "./connection-header.ts";
import { $, h } from "./dom.ts";
import { errorMessage } from "./format.ts";
import { refreshFunctionNames } from "./function-names.ts";

/** What /api/status answers (playground/server.mjs). */
interface Status {
  ok: boolean;
  error?: string;
  time: number;
  functions: { name: string; queued: number; running: number; workers: number }[];
  workers: { clientId: string; ip: string; functions: string[] }[];
  connections: number;
}

const POLL_MS = 1000;

let serverFunctions: string[] = [];

/** Names of the functions the job server knows, as of the last poll. */
export function serverFunctionNames(): Iterable<string> {
  return serverFunctions;
}

/** Polls now, then every second; a hidden tab skips polls and catches up when shown again. */
export function startPolling(): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async (): Promise<void> => {
    if (!document.hidden) await pollStatus();
    timer = setTimeout(() => void tick(), POLL_MS);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.hidden || timer === undefined) return;
    clearTimeout(timer);
    void tick();
  });
  void tick();
}

/** When the last answer came (a time of day), "" before the first. */
let answeredAt = "";

/**
 * Shows why the poll failed, or clears it ("" = the poll worked). The text is only touched when it changes: the
 * line is an alert, and a screen reader would announce it anew on every poll, once a second, while the server is down.
 * The tables stay as they were at the last answer, marked stale (dimmed) and saying since when.
 */
function showProblem(text: string): void {
  const alert = $("status-error");
  if (alert.textContent !== text) alert.textContent = text;
  const panel = $("server-panel");
  if (text) {
    panel.dataset.stale = "true";
    $("status-time").textContent = answeredAt ? `Tables as of ${answeredAt}.` : "";
  } else delete panel.dataset.stale;
}

async function pollStatus(): Promise<void> {
  let status: Status;
  try {
    const res = await fetch("/api/status", { cache: "no-store" });
    status = (await res.json()) as Status;
  } catch (err) {
    showProblem(`The page server did not answer: ${errorMessage(err)}`);
    return;
  }
  if (!status.ok) {
    showProblem(status.error ?? "the job server did not answer");
    return;
  }
  showProblem("");
  answeredAt = new Date(status.time).toLocaleTimeString(undefined, { hour12: false });
  $("status-time").textContent = `Updated ${answeredAt}.`;
  renderFunctions(status.functions);
  renderWorkers(status.workers);
  $("connection-count").textContent = `(${status.connections} connection${status.connections === 1 ? "" : "s"} in all)`;
  serverFunctions = status.functions.map((f) => f.name);
  refreshFunctionNames();
}

function renderFunctions(functions: Status["functions"]): void {
  const body = $("server-functions");
  if (functions.length === 0) {
    body.replaceChildren(h("tr", { class: "empty" }, h("td", { colSpan: 4 }, "No functions registered.")));
    return;
  }
  body.replaceChildren(
    ...functions.map((f) => {
      const row = h(
        "tr",
        {},
        h("th", { scope: "row" }, h("code", { textContent: f.name })),
        h("td", { class: "num", textContent: String(f.queued) }),
        h("td", { class: "num", textContent: String(f.running) }),
        h("td", { class: "num", textContent: String(f.workers) }),
      );
      row.dataset.function = f.name;
      return row;
    }),
  );
}

function renderWorkers(workers: Status["workers"]): void {
  const body = $("server-workers");
  if (workers.length === 0) {
    body.replaceChildren(h("tr", { class: "empty" }, h("td", { colSpan: 3 }, "No workers connected.")));
    return;
  }
  body.replaceChildren(
    ...workers.map((w) =>
      h(
        "tr",
        {},
        h(
          "th",
          { scope: "row" },
          h("code", { textContent: w.clientId }),
          w.clientId === `tab-${tabId}` ? h("span", { class: "muted small", textContent: " (this tab)" }) : "",
        ),
        h("td", { textContent: w.ip }),
        h("td", { textContent: w.functions.join(", ") }),
      )
    ),
  );
}
