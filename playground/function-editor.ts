// Browser (playground): the "Write or edit a function" form (#editor). It fills the form, shows why
// a function did not start, and hands what the user defines to the workers panel.
import { $, submitOnCtrlEnter } from "./dom.ts";
import { errorMessage } from "./format.ts";
import { type PresetOptions, TEMPLATE } from "./presets.ts";

/** Starts a function; rejects when the code does not compile or the worker cannot connect. */
export type DefineFunction = (name: string, code: string, options: PresetOptions) => Promise<void>;

/** Shows why a function did not start (an alert), opening the editor; "" clears it. */
export function showDefineError(text: string): void {
  $("define-error").textContent = text;
  if (text) ($("editor") as HTMLDetailsElement).open = true;
}

/** Opens the editor on a function and focuses its code. */
export function openEditor(name: string, code: string, options: PresetOptions): void {
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

/** Fills in the template and makes "Define and start" call `define`. */
export function wireFunctionEditor(define: DefineFunction): void {
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
    define(name, code, options).catch((err: unknown) => showDefineError(errorMessage(err)));
  });
}
