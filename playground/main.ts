// Browser (playground): UI wiring only. Gearman is src/browser.ts; packet decoding is packet-log.ts;
// the worker functions are presets.ts. No protocol logic here.
import {
  Client,
  type FunctionOptions,
  JobExceptionError,
  JobFailedError,
  type Packet,
  PacketType,
  type Priority,
  type Task,
  type TaskEvent,
  Worker,
} from "../src/browser.ts";
import { fieldText, PacketLog } from "./packet-log.ts";
import { compile, type Definition, isPartition, type Preset, type PresetOptions, PRESETS, TEMPLATE } from "./presets.ts";

// ---------------------------------------------------------------------------------------------
// Small DOM helpers

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { class?: string } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  const { class: cls, ...rest } = props;
  if (cls) el.className = cls;
  Object.assign(el, rest);
  el.append(...children);
  return el;
}

const decoder = new TextDecoder();
const text = (bytes: Uint8Array): string => decoder.decode(bytes);
const preview = (s: string, n = 80): string => (s.length > n ? `${s.slice(0, n)}…` : s);
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Tells screen readers about an outcome (a polite, visually hidden live region). */
function announce(line: string): void {
  $("announcer").textContent = line;
}

/** Ctrl/Cmd+Enter in a textarea submits its form. */
function submitOnCtrlEnter(area: HTMLTextAreaElement): void {
  area.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      area.form?.requestSubmit();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Configuration from the page server

interface Config {
  sdkVersion: string;
  bridgePath: string;
  upstream: { kind: "gearmand" | "embedded" | "external"; address: string; version: string; detail: string };
}

function newTabId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return [...bytes].map((b) => b.toString(36).padStart(2, "0")).join("").slice(0, 6);
}

const tabId = newTabId();
let bridgeUrl = "";

const packetLog = new PacketLog({
  list: $("packet-list"),
  filter: $("packet-filter"),
  showOut: $("packet-out"),
  showIn: $("packet-in"),
  hideIdle: $("packet-idle"),
  pause: $("packet-pause"),
  clear: $("packet-clear"),
  count: $("packet-count"),
});

// ---------------------------------------------------------------------------------------------
// Workers panel

interface FunctionState {
  name: string;
  code: string;
  options: PresetOptions;
  kind: "handler" | "map/reduce";
  serving: boolean;
  jobs: number;
  row: HTMLTableRowElement;
}

interface JobView {
  handle: string;
  functionName: string;
  item: HTMLLIElement;
  state: HTMLElement;
  progress: HTMLProgressElement;
  detail: HTMLElement;
  warnings: string[];
  done: boolean;
}

const functions = new Map<string, FunctionState>();
const jobViews = new Map<string, JobView>();
let worker: Worker | undefined;
let workerReady: Promise<Worker> | undefined;
const MAX_JOB_VIEWS = 50;
const MAX_TASKS = 50;

function setWorkerState(state: string, kind: "idle" | "busy" | "ok" | "error" = "idle"): void {
  const badge = $("worker-state");
  badge.textContent = state;
  badge.dataset.kind = kind;
  ($("stop-worker") as HTMLButtonElement).disabled = worker === undefined;
}

/** The tab's one Worker, started on first use. */
function ensureWorker(): Promise<Worker> {
  if (workerReady) return workerReady;
  const concurrency = Math.max(1, Math.min(64, Number(($("concurrency") as HTMLInputElement).value) || 1));
  const w = new Worker({ servers: [bridgeUrl], concurrency, tap: workerTap });
  worker = w;
  setWorkerState("connecting…", "busy");
  workerReady = w.start().then(
    () => {
      setWorkerState("running", "ok");
      return w;
    },
    async (err: unknown) => {
      worker = undefined;
      workerReady = undefined;
      await w.stop({ graceful: false });
      setWorkerState(`cannot connect: ${message(err)}`, "error");
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
  for (const f of functions.values()) {
    f.serving = false;
    renderFunction(f);
  }
  setWorkerState("stopping…", "busy");
  await w.stop({ graceful: true, timeout: 5000 });
  for (const v of jobViews.values()) {
    if (!v.done) finishJob(v, "abandoned", "the worker stopped; the server gives the job to another worker");
  }
  setWorkerState("stopped");
}

function optionsOf(f: FunctionState): FunctionOptions {
  const o: FunctionOptions = {};
  if (f.options.timeout) o.timeout = f.options.timeout;
  if (f.options.maxInFlight) o.maxInFlight = f.options.maxInFlight;
  if (f.options.exceptions) o.exceptions = true;
  return o;
}

/** Defines (or redefines) a function and serves it. Throws when the code does not compile. */
async function startFunction(name: string, code: string, options: PresetOptions): Promise<void> {
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
  updateFunctionNames();
}

function stopFunction(f: FunctionState): void {
  worker?.removeFunction(f.name);
  // removeFunction takes back the function's running jobs: the server hands them to another worker.
  for (const v of jobViews.values()) {
    if (!v.done && v.functionName === f.name) {
      finishJob(v, "abandoned", "the function was stopped; the server gives the job to another worker");
    }
  }
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
    startFunction(f.name, f.code, f.options).catch((err: unknown) => showDefineError(`${f.name}: ${message(err)}`));
  });
  const edit = h("button", { type: "button", textContent: "Edit" });
  edit.setAttribute("aria-label", `Edit ${f.name}`);
  edit.addEventListener("click", () => openEditor(f.name, f.code, f.options));
  const remove = h("button", { type: "button", textContent: "Remove" });
  remove.setAttribute("aria-label", `Remove ${f.name}`);
  remove.addEventListener("click", () => removeFunction(f));
  const state = h("span", { class: "badge", textContent: f.serving ? "serving" : "stopped" });
  state.dataset.kind = f.serving ? "ok" : "idle";
  f.row.dataset.function = f.name;
  f.row.replaceChildren(
    h("th", { scope: "row" }, h("code", { textContent: f.name }), h("span", { class: "kind", textContent: f.kind })),
    h("td", {}, state),
    h("td", { class: "num", textContent: String(f.jobs) }),
    h("td", { class: "actions" }, toggle, edit, remove),
  );
}

function showDefineError(text: string): void {
  $("define-error").textContent = text;
  if (text) ($("editor") as HTMLDetailsElement).open = true;
}

function openEditor(name: string, code: string, options: PresetOptions): void {
  const editor = $("editor") as HTMLDetailsElement;
  editor.open = true;
  ($("fn-name") as HTMLInputElement).value = name;
  ($("fn-code") as HTMLTextAreaElement).value = code;
  ($("fn-timeout") as HTMLInputElement).value = options.timeout ? String(options.timeout) : "";
  ($("fn-inflight") as HTMLInputElement).value = options.maxInFlight ? String(options.maxInFlight) : "";
  ($("fn-exceptions") as HTMLInputElement).checked = options.exceptions === true;
  showDefineError("");
  $("fn-code").focus();
}

/** Follows the jobs of this tab's worker from its packets: assignment in, progress and outcome out. */
function workerTap(direction: "out" | "in", packet: Packet, server: string): void {
  packetLog.add("worker", direction, packet, server);
  const a = packet.args;
  if (direction === "in") {
    // JOB_ASSIGN: handle, function, data; _UNIQ adds unique; _ALL adds unique and reducer.
    if (packet.type === PacketType.JOB_ASSIGN || packet.type === PacketType.JOB_ASSIGN_UNIQ || packet.type === PacketType.JOB_ASSIGN_ALL) {
      addJob(text(a[0]!), text(a[1]!), a[a.length - 1]!, packet.type === PacketType.JOB_ASSIGN_ALL ? text(a[3]!) : "");
    }
    return;
  }
  const view = a[0] ? jobViews.get(text(a[0])) : undefined;
  if (!view || view.done) return;
  switch (packet.type) {
    case PacketType.WORK_STATUS: {
      const n = Number(text(a[1]!));
      const d = Number(text(a[2]!));
      if (d > 0) {
        view.progress.hidden = false;
        view.progress.max = d;
        view.progress.value = Math.min(n, d);
        view.progress.textContent = `${n}/${d}`;
        view.state.textContent = `running ${n}/${d}`;
      }
      break;
    }
    case PacketType.WORK_DATA:
      view.detail.textContent = `data: ${fieldText(a[1]!)}`;
      break;
    case PacketType.WORK_WARNING:
      view.warnings.push(text(a[1]!));
      view.detail.textContent = `warning: ${text(a[1]!)}`;
      break;
    case PacketType.WORK_COMPLETE:
      finishJob(view, "complete", `result: ${fieldText(a[1]!)}`);
      break;
    case PacketType.WORK_FAIL:
      finishJob(view, "failed", view.warnings.length ? `warning: ${view.warnings.at(-1)}` : "the function returned FAIL");
      break;
    case PacketType.WORK_EXCEPTION:
      finishJob(view, "exception", `threw: ${text(a[1]!)}`);
      break;
  }
}

function addJob(handle: string, functionName: string, workload: Uint8Array, reducer: string): void {
  const state = h("span", { class: "badge", textContent: "running" });
  state.dataset.kind = "busy";
  const progress = h("progress", { max: 1, value: 0, hidden: true });
  progress.setAttribute("aria-label", `Progress of job ${handle}`);
  const detail = h("div", { class: "detail muted" });
  const item = h(
    "li",
    { class: "job" },
    h(
      "div",
      { class: "job-head" },
      h("strong", { textContent: functionName }),
      " ",
      h("code", { class: "handle", textContent: handle }),
      " ",
      state,
    ),
    h("div", { class: "payload", textContent: `${reducer ? `map → ${reducer}: ` : ""}${fieldText(workload)}` }),
    progress,
    detail,
  );
  item.dataset.function = functionName;
  const view: JobView = { handle, functionName, item, state, progress, detail, warnings: [], done: false };
  jobViews.set(handle, view);
  const list = $("jobs");
  list.prepend(item);
  // Keep the newest; drop finished ones beyond the cap.
  for (const v of [...jobViews.values()]) {
    if (jobViews.size <= MAX_JOB_VIEWS) break;
    if (v.done) {
      v.item.remove();
      jobViews.delete(v.handle);
    }
  }
}

function finishJob(view: JobView, outcome: "complete" | "failed" | "exception" | "abandoned", detail: string): void {
  view.done = true;
  view.state.textContent = outcome;
  view.state.dataset.kind = outcome === "complete" ? "ok" : "error";
  view.item.dataset.state = outcome;
  view.detail.textContent = detail;
  if (outcome === "complete" && !view.progress.hidden) view.progress.value = view.progress.max;
  const f = functions.get(view.functionName);
  if (f && outcome !== "abandoned") {
    f.jobs++;
    renderFunction(f);
  }
}

// ---------------------------------------------------------------------------------------------
// Client panel

let client: Client | undefined;

function getClient(): Client {
  client ??= new Client({ servers: [bridgeUrl], tap: packetLog.tap("client") });
  return client;
}

interface TaskCard {
  item: HTMLLIElement;
  progress: HTMLProgressElement;
  pct: HTMLElement;
  setState(state: string, kind: "busy" | "ok" | "error" | "idle"): void;
  event(line: string): void;
  result(line: string, kind: "ok" | "error"): void;
  handle(handle: string): void;
}

function taskCard(title: string, meta: string, payload: string): TaskCard {
  const state = h("span", { class: "badge", textContent: "submitting" });
  state.dataset.kind = "busy";
  const handle = h("code", { class: "handle" });
  const progress = h("progress", { max: 1, value: 0, hidden: true });
  progress.setAttribute("aria-label", `Progress of ${title}`);
  const pct = h("span", { class: "pct muted small" });
  const events = h("ol", { class: "events" });
  const out = h("output", { class: "result" });
  const item = h(
    "li",
    { class: "task" },
    h(
      "div",
      { class: "task-head" },
      h("strong", { textContent: title }),
      " ",
      h("span", { class: "muted small", textContent: meta }),
      " ",
      handle,
      " ",
      state,
    ),
    h("div", { class: "payload", textContent: preview(payload.replace(/\n/g, "⏎ ")) }),
    h("div", { class: "progress-row" }, progress, pct),
    events,
    out,
  );
  item.dataset.function = title;
  item.dataset.state = "running";
  const list = $("tasks");
  list.prepend(item);
  const finished = Array.from(list.querySelectorAll<HTMLLIElement>("li.task:not([data-state=running])"));
  for (const old of finished.slice(Math.max(0, MAX_TASKS - (list.children.length - finished.length)))) old.remove();
  return {
    item,
    progress,
    pct,
    setState(s, kind) {
      state.textContent = s;
      state.dataset.kind = kind;
    },
    event(line) {
      events.append(h("li", { textContent: line }));
      if (events.children.length > 30) events.firstElementChild?.remove();
    },
    result(line, kind) {
      out.textContent = line;
      out.dataset.kind = kind;
      item.dataset.state = kind === "ok" ? "complete" : "error";
      // One announcement per outcome, rather than a live region per task that speaks every status.
      announce(`${title}: ${line}`);
    },
    handle(hd) {
      handle.textContent = hd;
    },
  };
}

function describeEvent(ev: TaskEvent): string {
  switch (ev.type) {
    case "created":
      return `created ${ev.handle}`;
    case "data":
      return `data ${fieldText(ev.data)}`;
    case "warning":
      return `warning ${fieldText(ev.data)}`;
    case "status":
      return `status ${ev.numerator}/${ev.denominator}`;
    case "complete":
      return `complete ${fieldText(ev.data)}`;
    case "fail":
      return "fail";
    case "exception":
      return `exception ${fieldText(ev.data)}`;
  }
}

function follow(task: Task, card: TaskCard): void {
  task.on("*", (ev) => {
    card.event(describeEvent(ev));
    if (ev.type === "created") {
      card.handle(ev.handle);
      card.setState("running", "busy");
    } else if (ev.type === "status" && ev.denominator > 0) {
      card.progress.hidden = false;
      card.progress.max = ev.denominator;
      card.progress.value = Math.min(ev.numerator, ev.denominator);
      card.progress.textContent = `${ev.numerator}/${ev.denominator}`;
      card.pct.textContent = `${Math.round((100 * Math.min(ev.numerator, ev.denominator)) / ev.denominator)} %`;
      card.setState(`running ${ev.numerator}/${ev.denominator}`, "busy");
    }
  });
  task.result().then(
    (data) => {
      card.setState("complete", "ok");
      if (!card.progress.hidden) card.progress.value = card.progress.max;
      card.result(`Result: ${text(data)}`, "ok");
    },
    (err: unknown) => {
      if (err instanceof JobExceptionError) {
        card.setState("exception", "error");
        card.result(`Exception: ${err.text}`, "error");
      } else if (err instanceof JobFailedError) {
        card.setState("failed", "error");
        card.result(`Failed${err.warnings.length ? `: ${text(err.warnings.at(-1)!)}` : " (WORK_FAIL)"}`, "error");
      } else {
        card.setState("error", "error");
        card.result(`Error: ${message(err)}`, "error");
      }
    },
  );
}

function submitForm(ev: SubmitEvent): void {
  ev.preventDefault();
  const fn = ($("submit-fn") as HTMLInputElement).value.trim();
  const payload = ($("submit-payload") as HTMLTextAreaElement).value;
  const priority = ($("submit-priority") as HTMLSelectElement).value as Priority;
  const background = ($("submit-bg") as HTMLInputElement).checked;
  const unique = ($("submit-unique") as HTMLInputElement).value;
  const opts = { priority, ...(unique ? { unique } : {}) };
  const card = taskCard(fn, `${priority}${background ? " · background" : ""}${unique ? ` · unique ${unique}` : ""}`, payload);
  if (background) {
    getClient().submitBackground(fn, payload, opts).then(
      (handle) => {
        card.handle(handle);
        card.event(`created ${handle}`);
        card.setState("queued (background)", "ok");
        const check = h("button", { type: "button", textContent: "Get status" });
        check.setAttribute("aria-label", `Get the status of ${handle}`);
        check.addEventListener("click", () => {
          getClient().getStatus(handle).then(
            (s) =>
              card.result(
                s.known
                  ? `Status: ${s.running ? "running" : "queued"}${s.denominator ? `, ${s.numerator}/${s.denominator}` : ""}`
                  : "Status: finished (the server no longer knows it)",
                "ok",
              ),
            (err: unknown) => card.result(`Status: ${message(err)}`, "error"),
          );
        });
        card.item.append(check);
        card.item.dataset.state = "complete";
      },
      (err: unknown) => {
        card.setState("error", "error");
        card.result(`Error: ${message(err)}`, "error");
      },
    );
    return;
  }
  let task: Task;
  try {
    task = getClient().submit(fn, payload, opts);
  } catch (err) {
    card.setState("rejected", "error");
    card.result(`Error: ${message(err)}`, "error");
    return;
  }
  follow(task, card);
}

function reduceForm(ev: SubmitEvent): void {
  ev.preventDefault();
  const fn = ($("reduce-fn") as HTMLInputElement).value.trim();
  const reducer = ($("reduce-reducer") as HTMLInputElement).value.trim();
  const payload = ($("reduce-payload") as HTMLTextAreaElement).value;
  const card = taskCard(fn, `map/reduce → ${reducer}`, payload);
  let task: Task;
  try {
    task = getClient().submitReduce(fn, reducer, payload);
  } catch (err) {
    card.setState("rejected", "error");
    card.result(`Error: ${message(err)}`, "error");
    return;
  }
  follow(task, card);
}

// ---------------------------------------------------------------------------------------------
// Server panel

interface Status {
  ok: boolean;
  error?: string;
  time: number;
  functions: { name: string; queued: number; running: number; workers: number }[];
  workers: { clientId: string; ip: string; functions: string[] }[];
  connections: number;
}

let serverFunctions: string[] = [];

async function pollStatus(): Promise<void> {
  let status: Status;
  try {
    const res = await fetch("/api/status", { cache: "no-store" });
    status = (await res.json()) as Status;
  } catch (err) {
    $("status-error").textContent = `The page server did not answer: ${message(err)}`;
    return;
  }
  if (!status.ok) {
    $("status-error").textContent = status.error ?? "the job server did not answer";
    return;
  }
  $("status-error").textContent = "";
  $("status-time").textContent = `Updated ${new Date(status.time).toLocaleTimeString(undefined, { hour12: false })}.`;
  const fBody = $("server-functions");
  fBody.replaceChildren(
    ...(status.functions.length === 0
      ? [h("tr", { class: "empty" }, h("td", { colSpan: 4 }, "No functions registered."))]
      : status.functions.map((f) => {
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
      })),
  );
  const wBody = $("server-workers");
  wBody.replaceChildren(
    ...(status.workers.length === 0
      ? [h("tr", { class: "empty" }, h("td", { colSpan: 3 }, "No workers connected."))]
      : status.workers.map((w) => {
        const mine = w.clientId === `tab-${tabId}`;
        const row = h(
          "tr",
          {},
          h(
            "th",
            { scope: "row" },
            h("code", { textContent: w.clientId }),
            mine ? h("span", { class: "muted small", textContent: " (this tab)" }) : "",
          ),
          h("td", { textContent: w.ip }),
          h("td", { textContent: w.functions.join(", ") }),
        );
        return row;
      })),
  );
  $("connection-count").textContent = `(${status.connections} connection${status.connections === 1 ? "" : "s"} in all)`;
  serverFunctions = status.functions.map((f) => f.name);
  updateFunctionNames();
}

function updateFunctionNames(): void {
  const names = new Set<string>([...PRESETS.flatMap((p) => p.functions.map((f) => f.name)), ...functions.keys(), ...serverFunctions]);
  const list = $("function-names");
  if (list.children.length === names.size && Array.from(list.children).every((o) => names.has((o as HTMLOptionElement).value))) return;
  list.replaceChildren(...[...names].sort().map((n) => h("option", { value: n })));
}

function startPolling(): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async (): Promise<void> => {
    if (!document.hidden) await pollStatus();
    timer = setTimeout(() => void tick(), 1000);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.hidden || timer === undefined) return;
    clearTimeout(timer);
    void tick();
  });
  void tick();
}

// ---------------------------------------------------------------------------------------------
// Wiring

function presetById(id: string): Preset {
  return PRESETS.find((p) => p.id === id) ?? PRESETS[0]!;
}

async function startPreset(preset: Preset): Promise<void> {
  for (const f of preset.functions) await startFunction(f.name, f.code, f.options);
  // Offer the preset's sample in this tab's client panel too.
  if (preset.sample.reducer) {
    ($("reduce-fn") as HTMLInputElement).value = preset.sample.functionName;
    ($("reduce-reducer") as HTMLInputElement).value = preset.sample.reducer;
    ($("reduce-payload") as HTMLTextAreaElement).value = preset.sample.payload;
  } else {
    ($("submit-fn") as HTMLInputElement).value = preset.sample.functionName;
    ($("submit-payload") as HTMLTextAreaElement).value = preset.sample.payload;
  }
}

function wire(): void {
  const select = $("preset") as HTMLSelectElement;
  select.replaceChildren(...PRESETS.map((p) => h("option", { value: p.id, textContent: p.label })));
  const describe = (): void => {
    $("preset-desc").textContent = presetById(select.value).description;
  };
  select.addEventListener("change", describe);
  describe();
  $("preset-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    showDefineError("");
    startPreset(presetById(select.value)).catch((err: unknown) => showDefineError(message(err)));
  });

  ($("fn-code") as HTMLTextAreaElement).value = TEMPLATE;
  submitOnCtrlEnter($("fn-code"));
  $("define-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = ($("fn-name") as HTMLInputElement).value.trim();
    const code = ($("fn-code") as HTMLTextAreaElement).value;
    const timeout = Number(($("fn-timeout") as HTMLInputElement).value) || undefined;
    const maxInFlight = Number(($("fn-inflight") as HTMLInputElement).value) || undefined;
    const exceptions = ($("fn-exceptions") as HTMLInputElement).checked;
    showDefineError("");
    const options: PresetOptions = {
      ...(timeout ? { timeout } : {}),
      ...(maxInFlight ? { maxInFlight } : {}),
      ...(exceptions ? { exceptions } : {}),
    };
    startFunction(name, code, options).catch((err: unknown) => showDefineError(message(err)));
  });
  $("stop-worker").addEventListener("click", () => void stopWorker());

  $("submit-form").addEventListener("submit", submitForm);
  $("reduce-form").addEventListener("submit", reduceForm);
  submitOnCtrlEnter($("submit-payload"));
  submitOnCtrlEnter($("reduce-payload"));
  const wc = PRESETS.find((p) => p.sample.reducer);
  if (wc) ($("reduce-payload") as HTMLTextAreaElement).value = wc.sample.payload;
  $("clear-tasks").addEventListener("click", () => {
    for (const li of Array.from($("tasks").querySelectorAll("li.task:not([data-state=running])"))) li.remove();
  });
  updateFunctionNames();
}

async function main(): Promise<void> {
  wire();
  $("tab-id").textContent = `tab-${tabId}`;
  let config: Config;
  try {
    config = (await (await fetch("/api/config", { cache: "no-store" })).json()) as Config;
  } catch (err) {
    $("upstream").textContent = `cannot read /api/config: ${message(err)}`;
    return;
  }
  const u = config.upstream;
  const names = { gearmand: "gearmand", embedded: "the embedded job server", external: "gearmand (GEARMAN_SERVERS)" };
  const upstream = $("upstream");
  upstream.dataset.kind = u.kind;
  upstream.textContent = `${names[u.kind]} ${u.version} at ${u.address}`;
  upstream.title = u.detail;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  bridgeUrl = `${scheme}//${location.host}${config.bridgePath}?tab=${tabId}`;
  $("bridge-url").textContent = `${scheme}//${location.host}${config.bridgePath}`;
  document.body.dataset.ready = "true";
  startPolling();
}

void main();

// For the console: the tab's objects.
Object.assign(globalThis, {
  playground: {
    get worker() {
      return worker;
    },
    get client() {
      return client;
    },
    packetLog,
  },
});
