// Browser (playground): the Workers panel. The tab's one Worker, started on first use, and the
// functions it serves (the #functions table). Jobs are worker-jobs.ts; the editor, function-editor.ts.
import {
  type ConnectorFactory, consoleLogger, type FunctionOptions, type Logger, type Packet, websocketConnector, Worker,
} from "../src/browser.ts";
import { bridgePacketLimit, bridgeUrl } from "./connection-header.ts";
import { $, h } from "./dom.ts";
import { errorMessage } from "./format.ts";
import { openEditor, showDefineError } from "./function-editor.ts";
import { refreshFunctionNames } from "./function-names.ts";
import type { PacketTap } from "./packet-log.ts";
import { compile, type Definition, isPartition, type PresetOptions } from "./presets.ts";
import { WorkerJobs } from "./worker-jobs.ts";

interface FunctionState {
  name: string;
  code: string;
  options: PresetOptions;
  kind: "handler" | "map/reduce";
  serving: boolean;
  jobs: number;
  row: HTMLTableRowElement;
}

const functions = new Map<string, FunctionState>();
const jobs = new WorkerJobs((functionName) => {
  const f = functions.get(functionName);
  if (!f) return;
  f.jobs++;
  renderFunction(f);
});
let worker: Worker | undefined;
let workerReady: Promise<Worker> | undefined;
/** The concurrency the worker was started with. */
let workerConcurrency = 0;
/** The worker's connection to the bridge is open (false while it reconnects). */
let connected = false;
let logPacket: PacketTap = () => {};

/** The worker's logger: the console, as by default, and the job list hears the warnings (why a job failed). */
const logger: Logger = {
  warn(message) {
    jobs.note(message);
    consoleLogger.warn?.(message);
  },
  error: (message) => consoleLogger.error?.(message),
};

/** Makes the Stop worker and Concurrency controls work; `log` receives the worker's packets. */
export function wireWorkersPanel(log: PacketTap): void {
  logPacket = log;
  $("stop-worker").addEventListener("click", () => void stopWorker());
  $("concurrency").addEventListener("input", showConcurrencyNote);
}

/** The Concurrency field applies when the worker starts: the note says so when it differs from the running worker's. */
function showConcurrencyNote(): void {
  const wanted = concurrencyField();
  $("concurrency-note").textContent = worker && workerConcurrency !== wanted
    ? `The worker runs ${workerConcurrency} at once; ${wanted} applies after Stop worker and starting a function again.`
    : "Used when the worker starts.";
}

function concurrencyField(): number {
  return Math.max(1, Math.min(64, Number(($("concurrency") as HTMLInputElement).value) || 1));
}

/** The browser's bridge connector, telling `onChange` when a connection opens and closes. */
function watchedConnector(onChange: (open: boolean) => void): ConnectorFactory {
  return (server, options) => {
    const connect = websocketConnector(server, options);
    return async (signal) => {
      const t = await connect(signal);
      onChange(true);
      return {
        remote: t.remote,
        start: (sink) =>
          t.start({
            data: (chunk) => sink.data(chunk),
            drain: () => sink.drain(),
            closed: (err) => {
              sink.closed(err);
              onChange(false);
            },
          }),
        write: (bytes) => t.write(bytes),
        pause: () => t.pause(),
        resume: () => t.resume(),
        close: () => t.close(),
      };
    };
  };
}

/** The running worker's connection opened or closed: the badges say whether it can take jobs. */
function showConnected(open: boolean): void {
  if (open === connected) return;
  connected = open;
  if (open) setWorkerState("running", "ok");
  else {
    setWorkerState("disconnected: reconnecting…", "error");
    jobs.abandon("the connection to the bridge closed; the server gives the job to another worker");
  }
  for (const f of functions.values()) renderFunction(f);
}

/** The tab's Worker, if it is running or starting (for the console). */
export function currentWorker(): Worker | undefined {
  return worker;
}

/** Names of this tab's functions, serving or not. */
export function tabFunctionNames(): Iterable<string> {
  return functions.keys();
}

/** Defines (or redefines) a function and serves it. Throws when the code does not compile. */
export async function startFunction(name: string, code: string, options: PresetOptions): Promise<void> {
  const def: Definition = compile(code);
  let f = functions.get(name);
  if (!f) {
    const row = h("tr");
    f = { name, code, options, kind: "handler", serving: false, jobs: 0, row };
    functions.set(name, f);
    const body = $("functions");
    body.querySelector("tr.empty")?.remove();
    body.append(row);
  }
  f.code = code;
  f.options = options;
  f.kind = isPartition(def) ? "map/reduce" : "handler";
  const w = await ensureWorker();
  w.defineFunction(name, def, optionsOf(f));
  f.serving = true;
  renderFunction(f);
  refreshFunctionNames();
}

function workerTap(direction: "out" | "in", packet: Packet, server: string): void {
  logPacket(direction, packet, server);
  jobs.follow(direction, packet);
}

function setWorkerState(state: string, kind: "idle" | "busy" | "ok" | "error" = "idle"): void {
  const badge = $("worker-state");
  badge.textContent = state;
  badge.dataset.kind = kind;
  ($("stop-worker") as HTMLButtonElement).disabled = worker === undefined;
}

/** The tab's one Worker, started on first use. */
function ensureWorker(): Promise<Worker> {
  if (workerReady) return workerReady;
  workerConcurrency = concurrencyField();
  const w: Worker = new Worker({
    servers: [bridgeUrl()],
    concurrency: workerConcurrency,
    tap: workerTap,
    logger,
    // The bridge's limit: a result over it fails its job with the reason, instead of a 1009 and a requeue loop.
    maxPacketSize: bridgePacketLimit() || undefined,
    connector: watchedConnector((open) => worker === w && showConnected(open)),
  });
  worker = w;
  setWorkerState("connecting…", "busy");
  workerReady = w.start().then(
    () => {
      connected = true;
      setWorkerState("running", "ok");
      return w;
    },
    async (err: unknown) => {
      worker = undefined;
      workerReady = undefined;
      connected = false;
      await w.stop({ graceful: false });
      setWorkerState(`cannot connect: ${errorMessage(err)}`, "error");
      throw err;
    },
  );
  return workerReady;
}

async function stopWorker(): Promise<void> {
  const w = worker;
  if (!w) return;
  worker = undefined;
  workerReady = undefined;
  connected = false;
  showConcurrencyNote();
  for (const f of functions.values()) {
    f.serving = false;
    renderFunction(f);
  }
  setWorkerState("stopping…", "busy");
  await w.stop({ graceful: true, timeout: 5000 });
  jobs.abandon("the worker stopped; the server gives the job to another worker");
  setWorkerState("stopped");
}

function optionsOf(f: FunctionState): FunctionOptions {
  const o: FunctionOptions = {};
  if (f.options.timeout) o.timeout = f.options.timeout;
  if (f.options.maxInFlight) o.maxInFlight = f.options.maxInFlight;
  if (f.options.exceptions) o.exceptions = true;
  return o;
}

function stopFunction(f: FunctionState): void {
  // removeFunction takes back the function's running jobs: the server hands them to another worker.
  // (Said before its CANT_DO goes out, which the job list would otherwise read as ERROR or a timeout.)
  jobs.abandon("the function was stopped; the server gives the job to another worker", f.name);
  worker?.removeFunction(f.name);
  f.serving = false;
  renderFunction(f);
  if (![...functions.values()].some((x) => x.serving)) void stopWorker();
}

function removeFunction(f: FunctionState): void {
  if (f.serving) stopFunction(f);
  functions.delete(f.name);
  f.row.remove();
  if (functions.size === 0) {
    $("functions").append(h("tr", { class: "empty" }, h("td", { colSpan: 4 }, "No functions yet: start a preset.")));
  }
}

function renderFunction(f: FunctionState): void {
  const toggle = h("button", { type: "button", textContent: f.serving ? "Stop" : "Start" });
  toggle.setAttribute("aria-label", `${f.serving ? "Stop" : "Start"} ${f.name}`);
  toggle.addEventListener("click", () => {
    if (f.serving) return stopFunction(f);
    startFunction(f.name, f.code, f.options).catch((err: unknown) => showDefineError(`${f.name}: ${errorMessage(err)}`));
  });
  const edit = h("button", { type: "button", textContent: "Edit" });
  edit.setAttribute("aria-label", `Edit ${f.name}`);
  edit.addEventListener("click", () => openEditor(f.name, f.code, f.options));
  const remove = h("button", { type: "button", textContent: "Remove" });
  remove.setAttribute("aria-label", `Remove ${f.name}`);
  remove.addEventListener("click", () => removeFunction(f));
  // Serving, as far as this tab can tell: the function is defined and the worker's connection is open.
  const online = f.serving && connected;
  const state = h("span", { class: "badge", textContent: online ? "serving" : f.serving ? "offline" : "stopped" });
  state.dataset.kind = online ? "ok" : f.serving ? "error" : "idle";
  f.row.dataset.function = f.name;
  f.row.replaceChildren(
    h("th", { scope: "row" }, h("code", { textContent: f.name }), h("span", { class: "kind", textContent: f.kind })),
    h("td", {}, state),
    h("td", { class: "num", textContent: String(f.jobs) }),
    h("td", { class: "actions" }, toggle, edit, remove),
  );
}
