// Browser (playground): one card in the client panel's task list (#tasks) per submitted task: its
// handle, state, progress, events and outcome. followTask() keeps a card up to date from the Task.
import { AbortError, JobExceptionError, JobFailedError, type Task, type TaskEvent, TimeoutError } from "../src/browser.ts";
import { $, announce, h } from "./dom.ts";
import { decodeText, errorMessage, preview } from "./format.ts";
import { fieldText } from "./packet-fields.ts";

const MAX_TASKS = 50;
const MAX_EVENTS = 30;

/** A task's card, newest first in #tasks. */
export interface TaskCard {
  item: HTMLLIElement;
  progress: HTMLProgressElement;
  pct: HTMLElement;
  setState(state: string, kind: "busy" | "ok" | "error" | "idle"): void;
  event(line: string): void;
  /** The outcome line; "idle" is for a task the page stopped waiting for. */
  result(line: string, kind: "ok" | "error" | "idle"): void;
  handle(handle: string): void;
}

/** Adds a card for a task being submitted, dropping the oldest finished cards beyond the cap. */
export function taskCard(title: string, meta: string, payload: string): TaskCard {
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
      if (events.children.length > MAX_EVENTS) events.firstElementChild?.remove();
    },
    result(line, kind) {
      out.textContent = line;
      out.dataset.kind = kind;
      item.dataset.state = kind === "ok" ? "complete" : kind === "idle" ? "abandoned" : "error";
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

const STILL_ON_SERVER = "the job is still on the server, and a worker may still run it";

/**
 * Shows the task's events, progress and outcome on its card. With `stop`, the card has a Stop waiting button that
 * aborts it (the request's signal): the page stops waiting, the job stays on the server.
 */
export function followTask(task: Task, card: TaskCard, stop?: AbortController, describe = (err: unknown): string => `Error: ${errorMessage(err)}`): void {
  if (stop) {
    const button = h("button", { type: "button", class: "stop-waiting", textContent: "Stop waiting" });
    button.setAttribute("aria-label", `Stop waiting for ${card.item.dataset.function ?? "the task"}`);
    button.addEventListener("click", () => stop.abort());
    card.item.append(button);
  }
  task.on("*", (ev) => {
    card.event(describeEvent(ev));
    if (ev.type === "created") {
      // The server has it; whether a worker does, only the worker's status or data (or Get status) tells.
      card.handle(ev.handle);
      card.setState("queued", "busy");
    } else if (ev.type === "status" && ev.denominator > 0) {
      card.progress.hidden = false;
      card.progress.max = ev.denominator;
      card.progress.value = Math.min(ev.numerator, ev.denominator);
      card.progress.textContent = `${ev.numerator}/${ev.denominator}`;
      card.pct.textContent = `${Math.round((100 * Math.min(ev.numerator, ev.denominator)) / ev.denominator)} %`;
      card.setState(`running ${ev.numerator}/${ev.denominator}`, "busy");
    } else if ((ev.type === "status" || ev.type === "data" || ev.type === "warning") && card.progress.hidden) {
      card.setState("running", "busy");
    }
  });
  // The outcome; once it is in, a status query (the Get status button of client-panel.ts) has nothing more to tell.
  task.result().then(
    (data) => {
      card.setState("complete", "ok");
      if (!card.progress.hidden) card.progress.value = card.progress.max;
      card.result(`Result: ${decodeText(data)}`, "ok");
    },
    (err: unknown) => {
      if (err instanceof JobExceptionError) {
        card.setState("exception", "error");
        card.result(`Exception: ${err.text}`, "error");
      } else if (err instanceof JobFailedError) {
        card.setState("failed", "error");
        card.result(`Failed${err.warnings.length ? `: ${decodeText(err.warnings.at(-1)!)}` : " (WORK_FAIL)"}`, "error");
      } else if (err instanceof TimeoutError) {
        card.setState("timed out", "error");
        card.result(`Timed out: ${err.message}; ${STILL_ON_SERVER}`, "error");
      } else if (err instanceof AbortError) {
        card.setState("stopped waiting", "idle");
        card.result(`Stopped waiting: ${STILL_ON_SERVER}`, "idle");
      } else {
        card.setState("error", "error");
        card.result(describe(err), "error");
      }
    },
  ).finally(() => {
    for (const b of Array.from(card.item.querySelectorAll("button.get-status, button.stop-waiting"))) b.remove();
  });
}
