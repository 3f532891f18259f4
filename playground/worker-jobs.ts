// Browser (playground): "Jobs this tab is working on" (#jobs). The list follows the tab's Worker from
// its packets, JOB_ASSIGN* in and WORK_* out, so it shows what went over the wire.
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
  done: boolean;
}

const MAX_JOB_VIEWS = 50;

/** The job list of the tab's Worker. */
export class WorkerJobs {
  #views = new Map<string, JobView>();
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
    const view = a[0] ? this.#views.get(decodeText(a[0])) : undefined;
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
        this.#finish(view, "failed", view.warnings.length ? `warning: ${view.warnings.at(-1)}` : "the function returned FAIL");
        break;
      case PacketType.WORK_EXCEPTION:
        this.#finish(view, "exception", `threw: ${decodeText(a[1]!)}`);
        break;
    }
  }

  /** Marks the running jobs (of one function, or all) as abandoned, with `detail` saying why. */
  abandon(detail: string, functionName?: string): void {
    for (const v of this.#views.values()) {
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
    const view: JobView = { handle, functionName, item, state, progress, detail, warnings: [], done: false };
    this.#views.set(handle, view);
    $("jobs").prepend(item);
    // Keep the newest; drop finished ones beyond the cap.
    for (const v of [...this.#views.values()]) {
      if (this.#views.size <= MAX_JOB_VIEWS) break;
      if (v.done) {
        v.item.remove();
        this.#views.delete(v.handle);
      }
    }
  }

  #finish(view: JobView, outcome: Outcome, detail: string): void {
    view.done = true;
    view.state.textContent = outcome;
    view.state.dataset.kind = outcome === "complete" ? "ok" : "error";
    view.item.dataset.state = outcome;
    view.detail.textContent = detail;
    if (outcome === "complete" && !view.progress.hidden) view.progress.value = view.progress.max;
    if (outcome !== "abandoned") this.#onAnswered(view.functionName);
  }
}
