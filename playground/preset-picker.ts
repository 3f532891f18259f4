// Browser (playground): the Preset picker of the workers panel. Starting a preset serves its
// functions in this tab and fills in its sample in the client panel, ready to submit.
import { offerSample } from "./client-panel.ts";
import { $, h } from "./dom.ts";
import { errorMessage } from "./format.ts";
import { showDefineError } from "./function-editor.ts";
import { type Preset, PRESETS } from "./presets.ts";
import { startFunction } from "./workers-panel.ts";

function presetById(id: string): Preset {
  return PRESETS.find((p) => p.id === id) ?? PRESETS[0]!;
}

async function startPreset(preset: Preset): Promise<void> {
  for (const f of preset.functions) await startFunction(f.name, f.code, f.options);
  offerSample(preset.sample);
}

/** Lists the presets, describes the chosen one, and makes Start preset start it. */
export function wirePresetPicker(): void {
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
    startPreset(presetById(select.value)).catch((err: unknown) => showDefineError(errorMessage(err)));
  });
}
