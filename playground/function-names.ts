// Browser (playground): the names the Function, Mapper and Reducer fields suggest (#function-names):
// the presets' functions plus whatever sources main.ts adds (this tab's functions, the server's).
import { $, h } from "./dom.ts";
import { PRESETS } from "./presets.ts";

const sources: (() => Iterable<string>)[] = [];

/** Adds a source of names. It is read on every refresh, so it reports the names of that moment. */
export function suggestFunctionNames(source: () => Iterable<string>): void {
  sources.push(source);
}

/** Brings the suggestions up to date with the presets and every source. */
export function refreshFunctionNames(): void {
  const names = new Set<string>([...PRESETS.flatMap((p) => p.functions.map((f) => f.name)), ...sources.flatMap((s) => [...s()])]);
  const list = $("function-names");
  // The server panel refreshes every second: leave the options alone unless the names changed.
  if (list.children.length === names.size && Array.from(list.children).every((o) => names.has((o as HTMLOptionElement).value))) return;
  list.replaceChildren(...[...names].sort().map((n) => h("option", { value: n })));
}
