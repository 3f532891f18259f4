// Browser (playground): "Jobs this tab is working on" (#jobs). The list follows the tab's Worker from
// its packets, JOB_ASSIGN* in and WORK_* and CANT_DO out, so it shows what went over the wire.
import { type Packet, PacketType } from "../src/browser.ts";
import { $, h } from "./dom.ts";
import { decodeText } from "./format.ts";
import { fieldText } from "./packet-fields.ts";

/** How a job left this tab: answered (complete, failed, exception) or given back to the server. */
type Outcome = "complete" | "failed" | "exception" | "abandoned";

interface JobView {
  handle: string;
  functionName: string;
  item: HTMLLIElement;
  state: HTMLElement;
  progress: HTMLProgressElement;
  detail: HTMLElement;
  warnings: string[];
  /** Why the worker failed the job, as its logger said (a handler that returned no payload). */
  reason: string;
  done: boolean;
}

const MAX_JOB_VIEWS = 50;
const GIVEN_BACK = "given back to the server without an answer (the handler returned ERROR or timed out)";

/** The job list of the tab's Worker. */
export class WorkerJobs {
  /** Every row, oldest first: the cap counts these. */
  #views: JobView[] = [];
  /** The latest row of each handle: a job given back may come again under the same handle. */
  #byHandle = new Map<string, JobView>();
  #onAnswered: (functionName: string) => void;

  /** `onAnswered` hears of each job the worker answered; jobs given back to the server do not count. */
  constructor(onAnswered: (functionName: string) => void) {
    this.#onAnswered = onAnswered;
  }

  /** Reads one packet of the worker (its `tap`): assignment in, progress and outcome out. */
  follow(direction: "out" | "in", packet: Packet): void {
    const a = packet.args;
    if (direction === "in") {
      // JOB_ASSIGN: handle, function, data; _UNIQ adds unique; _ALL adds unique and reducer.
      if (
        packet.type === PacketType.JOB_ASSIGN || packet.type === PacketType.JOB_ASSIGN_UNIQ || packet.type === PacketType.JOB_ASSIGN_ALL
      ) {
        this.#add(
          decodeText(a[0]!),
          decodeText(a[1]!),
          a[a.length - 1]!,
          packet.type === PacketType.JOB_ASSIGN_ALL ? decodeText(a[3]!) : "",
        );
      }
      return;
    }
    // CANT_DO gives back the function's jobs this worker still holds (ERROR, a timeout, a stopped function).
    if (packet.type === PacketType.CANT_DO) return this.abandon(GIVEN_BACK, decodeText(a[0]!));
    const view = a[0] ? this.#byHandle.get(decodeText(a[0])) : undefined;
    if (!view || view.done) return;
    switch (packet.type) {
      case PacketType.WORK_STATUS: {
        const n = Number(decodeText(a[1]!));
        const d = Number(decodeText(a[2]!));
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
        view.warnings.push(decodeText(a[1]!));
        view.detail.textContent = `warning: ${decodeText(a[1]!)}`;
        break;
      case PacketType.WORK_COMPLETE:
        this.#finish(view, "complete", `result: ${fieldText(a[1]!)}`);
        break;
      case PacketType.WORK_FAIL:
        this.#finish(
          view,
          "failed",
          view.reason || (view.warnings.length ? `warning: ${view.warnings.at(-1)}` : "the function returned FAIL"),
        );
        break;
      case PacketType.WORK_EXCEPTION:
        this.#finish(view, "exception", `threw: ${decodeText(a[1]!)}`);
        break;
    }
  }

  /** Reads one warning of the worker's logger: one naming a running job's handle becomes its reason to fail. */
  note(message: string): void {
    const handle = /\bjob (\S+?):? /.exec(`${message} `)?.[1];
    const view = handle === undefined ? undefined : this.#byHandle.get(handle);
    if (view && !view.done) view.reason = message;
  }

  /** Marks the running jobs (of one function, or all) as given back to the server, with `detail` saying why. */
  abandon(detail: string, functionName?: string): void {
    for (const v of this.#views) {
      if (!v.done && (functionName === undefined || v.functionName === functionName)) this.#finish(v, "abandoned", detail);
    }
  }

  #add(handle: string, functionName: string, workload: Uint8Array, reducer: string): void {
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
    // The same handle again: the server took the job back from this worker and assigned it anew.
    const earlier = this.#byHandle.get(handle);
    if (earlier && !earlier.done) this.#finish(earlier, "abandoned", GIVEN_BACK);
    const view: JobView = { handle, functionName, item, state, progress, detail, warnings: [], reason: "", done: false };
    this.#views.push(view);
    this.#byHandle.set(handle, view);
    $("jobs").prepend(item);
    // Keep the newest; drop the oldest finished ones beyond the cap.
    let excess = this.#views.length - MAX_JOB_VIEWS;
    this.#views = this.#views.filter((v) => {
      if (excess <= 0 || !v.done) return true;
      excess--;
      v.item.remove();
      if (this.#byHandle.get(v.handle) === v) this.#byHandle.delete(v.handle);
      return false;
    });
  }

  #finish(view: JobView, outcome: Outcome, detail: string): void {
    view.done = true;
    view.state.textContent = outcome === "abandoned" ? "given back" : outcome;
    view.state.dataset.kind = outcome === "complete" ? "ok" : outcome === "abandoned" ? "idle" : "error";
    view.item.dataset.state = outcome;
    view.detail.textContent = detail;
    if (outcome === "complete" && !view.progress.hidden) view.progress.value = view.progress.max;
    if (outcome !== "abandoned") this.#onAnswered(view.functionName);
  }
}
