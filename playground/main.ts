// Browser (playground): the page script. Wires the panels together; no protocol logic here.
// Gearman is src/browser.ts; each panel is its own module (see the imports).
import { currentClient, wireClientPanel } from "./client-panel.ts";
import { showConnection } from "./connection-header.ts";
import { $ } from "./dom.ts";
import { wireFunctionEditor } from "./function-editor.ts";
import { refreshFunctionNames, suggestFunctionNames } from "./function-names.ts";
import { PacketLog } from "./packet-log.ts";
import { wirePresetPicker } from "./preset-picker.ts";
import { serverFunctionNames, startPolling } from "./server-panel.ts";
import { currentWorker, startFunction, tabFunctionNames, wireWorkersPanel } from "./workers-panel.ts";

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

async function main(): Promise<void> {
  wirePresetPicker();
  wireFunctionEditor(startFunction);
  wireWorkersPanel(packetLog.tap("worker"));
  wireClientPanel(packetLog.tap("client"));
  suggestFunctionNames(tabFunctionNames);
  suggestFunctionNames(serverFunctionNames);
  refreshFunctionNames();
  // Without the config there is no bridge to dial: the page stays not ready, and says why.
  if (!(await showConnection())) return;
  document.body.dataset.ready = "true";
  startPolling();
}

void main();

// For the console: the tab's objects.
Object.assign(globalThis, {
  playground: {
    get worker() {
      return currentWorker();
    },
    get client() {
      return currentClient();
    },
    packetLog,
  },
});
