// Browser (playground): the Client panel. The tab's one Client, created on first use, and the
// submit and map/reduce forms; each submission gets a card (task-card.ts).
import { Client, InvalidArgumentError, MAX_UNIQUE_BYTES, type Priority, type Task } from "../src/browser.ts";
import { bridgePacketLimit, bridgeUrl, principal } from "./connection-header.ts";
import { $, h, submitOnCtrlEnter } from "./dom.ts";
import { errorMessage, formatBytes } from "./format.ts";
import type { PacketTap } from "./packet-log.ts";
import { type Preset, PRESETS } from "./presets.ts";
import { followTask, type TaskCard, taskCard } from "./task-card.ts";

const encoder = new TextEncoder();
/**
 * The longest unique this tab can send. The bridge files it as `<principal>:<unique>` and the job server keeps
 * MAX_UNIQUE_BYTES; a longer one makes the bridge close the tab's client connection (1008), failing every task on it.
 */
const UNIQUE_LIMIT = MAX_UNIQUE_BYTES - encoder.encode(`${principal}:`).length;

let client: Client | undefined;
let logPacket: PacketTap = () => {};

function getClient(): Client {
  // The bridge's packet limit: a larger job is refused here (InvalidArgumentError) instead of a 1009 from the bridge,
  // which would close the tab's connection and fail every task on it.
  client ??= new Client({ servers: [bridgeUrl()], tap: logPacket, maxPacketSize: bridgePacketLimit() || undefined });
  return client;
}

/** The tab's Client, once something was submitted (for the console). */
export function currentClient(): Client | undefined {
  return client;
}

/** Wires the forms and the Clear finished button; `log` receives the client's packets. */
export function wireClientPanel(log: PacketTap): void {
  logPacket = log;
  $("submit-form").addEventListener("submit", submitForm);
  $("reduce-form").addEventListener("submit", reduceForm);
  $("submit-unique").addEventListener("input", checkUnique);
  checkUnique();
  submitOnCtrlEnter($("submit-payload"));
  submitOnCtrlEnter($("reduce-payload"));
  const wc = PRESETS.find((p) => p.sample.reducer);
  if (wc) ($("reduce-payload") as HTMLTextAreaElement).value = wc.sample.payload;
  $("clear-tasks").addEventListener("click", () => {
    for (const li of Array.from($("tasks").querySelectorAll("li.task:not([data-state=running])"))) li.remove();
  });
}

/** Fills in a preset's sample: the map/reduce form when it has a reducer, else the submit form. */
export function offerSample(sample: Preset["sample"]): void {
  if (sample.reducer) {
    ($("reduce-fn") as HTMLInputElement).value = sample.functionName;
    ($("reduce-reducer") as HTMLInputElement).value = sample.reducer;
    ($("reduce-payload") as HTMLTextAreaElement).value = sample.payload;
  } else {
    ($("submit-fn") as HTMLInputElement).value = sample.functionName;
    ($("submit-payload") as HTMLTextAreaElement).value = sample.payload;
  }
}

/** Refuses (form validation) a unique the bridge would not take, and says why in the hint under it. */
function checkUnique(): void {
  const input = $("submit-unique") as HTMLInputElement;
  const bytes = encoder.encode(input.value).length;
  const why = `the bridge puts "${principal}:" in front of it and the job server keeps ${MAX_UNIQUE_BYTES} bytes`;
  const problem = bytes > UNIQUE_LIMIT ? `The unique is ${bytes} bytes; at most ${UNIQUE_LIMIT} fit: ${why}.` : "";
  input.setCustomValidity(problem);
  const hint = $("unique-hint");
  hint.textContent = problem || `At most ${UNIQUE_LIMIT} bytes: ${why}.`;
  hint.classList.toggle("error", problem !== "");
}

/** What a card says when a submit was refused or failed: the packet limit named as the bridge's. */
function submitError(err: unknown): string {
  const message = errorMessage(err);
  if (!(err instanceof InvalidArgumentError) || !message.includes("maxPacketSize")) return `Error: ${message}`;
  const limit = bridgePacketLimit();
  return `Error: ${message.replace(/,? over maxPacketSize/, "")}, over the bridge's limit of ${formatBytes(limit)} ` +
    "(payload, function name and unique): refused before sending.";
}

/**
 * Adds a Get status button to the card. Its answer updates the badge: a background job's only news, and for a
 * foreground one whether it is queued or running when its worker sends no status.
 */
function addStatusButton(card: TaskCard, handle: string, background: boolean): void {
  const check = h("button", { type: "button", class: "get-status", textContent: "Get status" });
  check.setAttribute("aria-label", `Get the status of ${handle}`);
  check.addEventListener("click", () => {
    getClient().getStatus(handle).then(
      (s) => {
        const state = !s.known ? "finished" : s.running ? "running" : "queued";
        const steps = s.known && s.denominator ? ` ${s.numerator}/${s.denominator}` : "";
        if (background) {
          card.setState(`${state}${steps} (background)`, s.known ? "busy" : "ok");
          card.result(s.known ? `Status: ${state}${steps}` : "Status: finished (the server no longer knows it)", "ok");
        } else {
          card.event(`get status: ${s.known ? `${state}${steps}` : "unknown"}`);
          if (s.known && card.item.dataset.state === "running") card.setState(`${state}${steps}`, "busy");
        }
      },
      (err: unknown) => {
        if (background) card.result(`Status: ${errorMessage(err)}`, "error");
        else card.event(`get status: ${errorMessage(err)}`);
      },
    );
  });
  card.item.append(check);
}

function submitForm(ev: SubmitEvent): void {
  ev.preventDefault();
  const fn = ($("submit-fn") as HTMLInputElement).value.trim();
  const payload = ($("submit-payload") as HTMLTextAreaElement).value;
  const priority = ($("submit-priority") as HTMLSelectElement).value as Priority;
  const background = ($("submit-bg") as HTMLInputElement).checked;
  const unique = ($("submit-unique") as HTMLInputElement).value;
  const timeout = Number(($("submit-timeout") as HTMLInputElement).value) || undefined;
  const stop = new AbortController();
  const opts = { priority, ...(unique ? { unique } : {}), ...(timeout ? { timeout } : {}), signal: stop.signal };
  const card = taskCard(fn, `${priority}${background ? " · background" : ""}${unique ? ` · unique ${unique}` : ""}`, payload);
  if (background) {
    getClient().submitBackground(fn, payload, opts).then(
      (handle) => {
        card.handle(handle);
        card.event(`created ${handle}`);
        card.setState("queued (background)", "busy");
        addStatusButton(card, handle, true);
        // This page never hears a background task's outcome: the card counts as finished (Clear finished, the cap).
        card.item.dataset.state = "complete";
      },
      (err: unknown) => {
        card.setState("error", "error");
        card.result(submitError(err), "error");
      },
    );
    return;
  }
  let task: Task;
  try {
    task = getClient().submit(fn, payload, opts);
  } catch (err) {
    card.setState("rejected", "error");
    card.result(submitError(err), "error");
    return;
  }
  task.on("created", (ev) => addStatusButton(card, ev.handle, false));
  // A packet over the limit rejects the task (nothing was sent): said as the bridge's limit.
  followTask(task, card, stop, submitError);
}

function reduceForm(ev: SubmitEvent): void {
  ev.preventDefault();
  const fn = ($("reduce-fn") as HTMLInputElement).value.trim();
  const reducer = ($("reduce-reducer") as HTMLInputElement).value.trim();
  const payload = ($("reduce-payload") as HTMLTextAreaElement).value;
  const card = taskCard(fn, `map/reduce → ${reducer}`, payload);
  const stop = new AbortController();
  let task: Task;
  try {
    task = getClient().submitReduce(fn, reducer, payload, { signal: stop.signal });
  } catch (err) {
    card.setState("rejected", "error");
    card.result(submitError(err), "error");
    return;
  }
  followTask(task, card, stop, submitError);
}
