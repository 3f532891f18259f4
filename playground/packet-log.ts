// Browser (playground): the packet inspector. Every packet the tab's client and worker send or
// receive, decoded (type name, named fields, hex), filterable. Fed by the `tap` option.
import { encodePacket, type Packet, packetTypeName } from "../src/browser.ts";
import { fieldNames, fieldText, hexDump } from "./packet-fields.ts";

/** Which of the tab's connections a packet went over. */
export type PacketSource = "client" | "worker";

/** The `tap` option of a Client or Worker: called with every packet it sends or receives. */
export type PacketTap = (direction: "out" | "in", packet: Packet, server: string) => void;

interface Entry {
  seq: number;
  time: Date;
  source: PacketSource;
  direction: "out" | "in";
  server: string;
  type: number;
  name: string;
  /** Owned copies of the fields. */
  args: Uint8Array[];
  size: number;
  /** Lower-cased text the filter searches. */
  haystack: string;
  element: HTMLLIElement | undefined;
}

/** The elements the log renders into (see index.html). */
export interface PacketLogElements {
  list: HTMLOListElement;
  filter: HTMLInputElement;
  showOut: HTMLInputElement;
  showIn: HTMLInputElement;
  hideIdle: HTMLInputElement;
  pause: HTMLButtonElement;
  clear: HTMLButtonElement;
  count: HTMLElement;
}

const MAX_ENTRIES = 1000;
// The worker's idle loop: useful to see once, noisy after that.
const IDLE = new Set(["PRE_SLEEP", "NOOP", "GRAB_JOB", "GRAB_JOB_UNIQ", "GRAB_JOB_ALL", "NO_JOB"]);

/** The packet inspector of one tab. */
export class PacketLog {
  #el: PacketLogElements;
  #entries: Entry[] = [];
  #seq = 0;
  #paused = false;
  #held: Entry[] = [];
  #shown = 0;

  constructor(elements: PacketLogElements) {
    this.#el = elements;
    const refilter = (): void => this.#refilter();
    elements.filter.addEventListener("input", refilter);
    elements.showOut.addEventListener("change", refilter);
    elements.showIn.addEventListener("change", refilter);
    elements.hideIdle.addEventListener("change", refilter);
    elements.pause.addEventListener("click", () => this.#togglePause());
    elements.clear.addEventListener("click", () => this.clear());
    this.#updateCount();
  }

  /** A `tap` for the client or worker options: `tap: log.tap("worker")`. */
  tap(source: PacketSource): PacketTap {
    return (direction, packet, server) => this.add(source, direction, packet, server);
  }

  /** Records one packet. */
  add(source: PacketSource, direction: "out" | "in", packet: Packet, server: string): void {
    // The decoder's fields are views of the received chunk: keep copies.
    const args = packet.args.map((a) => a.slice());
    const name = packet.type === 0 ? "TEXT" : packetTypeName(packet.type);
    const names = fieldNames(packet.type);
    const fields = args.map((a, i) => `${names[i] ?? `arg${i}`}=${fieldText(a)}`).join(" ");
    const size = 12 + args.reduce((n, a) => n + a.length, 0) + Math.max(0, args.length - 1);
    const entry: Entry = {
      seq: ++this.#seq,
      time: new Date(),
      source,
      direction,
      server,
      type: packet.type,
      name,
      args,
      size,
      haystack: `${name} ${source} ${direction === "out" ? "sent" : "received"} ${fields}`.toLowerCase(),
      element: undefined,
    };
    if (this.#paused) {
      this.#held.push(entry);
      if (this.#held.length > MAX_ENTRIES) this.#held.shift();
      this.#updateCount();
      return;
    }
    this.#append(entry);
  }

  /** Removes every entry. */
  clear(): void {
    this.#entries = [];
    this.#held = [];
    this.#shown = 0;
    this.#el.list.replaceChildren();
    this.#updateCount();
  }

  /** Packet type names recorded so far, oldest first (tests and the console). */
  get names(): string[] {
    return this.#entries.map((e) => e.name);
  }

  #append(entry: Entry): void {
    this.#entries.push(entry);
    if (this.#entries.length > MAX_ENTRIES) {
      const old = this.#entries.shift()?.element;
      if (old && !old.hidden) this.#shown--;
      old?.remove();
    }
    const li = this.#render(entry);
    li.hidden = !this.#matches(entry);
    if (!li.hidden) this.#shown++;
    const list = this.#el.list;
    // Stay at the bottom when the user is there; otherwise leave the scroll position alone.
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    list.append(li);
    if (atBottom) list.scrollTop = list.scrollHeight;
    this.#updateCount();
  }

  #render(entry: Entry): HTMLLIElement {
    const li = document.createElement("li");
    li.className = `packet ${entry.direction} ${entry.source}`;
    li.dataset.type = entry.name;
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    const arrow = entry.direction === "out" ? "→" : "←";
    const time = document.createElement("time");
    time.dateTime = entry.time.toISOString();
    time.textContent = entry.time.toLocaleTimeString(undefined, { hour12: false }) +
      `.${String(entry.time.getMilliseconds()).padStart(3, "0")}`;
    const dir = document.createElement("span");
    dir.className = "dir";
    dir.textContent = `${arrow} ${entry.source}`;
    dir.title = entry.direction === "out"
      ? `sent by the ${entry.source} to ${entry.server}`
      : `received by the ${entry.source} from ${entry.server}`;
    const type = document.createElement("strong");
    type.className = "ptype";
    type.textContent = entry.name;
    const fields = document.createElement("span");
    fields.className = "fields";
    const names = fieldNames(entry.type);
    entry.args.forEach((a, i) => {
      const f = document.createElement("span");
      f.className = "field";
      const k = document.createElement("span");
      k.className = "k";
      k.textContent = `${names[i] ?? `arg${i}`}=`;
      f.append(k, fieldText(a));
      fields.append(f, " ");
    });
    const size = document.createElement("span");
    size.className = "size";
    size.textContent = `${entry.size} B`;
    // The size ends the first line of the row; the fields, when there are any, take the line below (style.css).
    summary.append(time, " ", dir, " ", type, " ", size, fields);
    details.append(summary);
    details.addEventListener("toggle", () => {
      if (!details.open || details.querySelector("pre")) return;
      const pre = document.createElement("pre");
      pre.className = "hex";
      let bytes: Uint8Array;
      try {
        bytes = encodePacket(entry.type, entry.args, entry.direction === "out" ? "req" : "res");
      } catch {
        bytes = new Uint8Array(0);
      }
      pre.textContent = `${entry.name} (${entry.type}), ${bytes.length} bytes, ${
        entry.direction === "out" ? "to" : "from"
      } ${entry.server}\n${hexDump(bytes)}`;
      details.append(pre);
    });
    li.append(details);
    entry.element = li;
    return li;
  }

  #matches(entry: Entry): boolean {
    if (entry.direction === "out" && !this.#el.showOut.checked) return false;
    if (entry.direction === "in" && !this.#el.showIn.checked) return false;
    if (this.#el.hideIdle.checked && IDLE.has(entry.name)) return false;
    const words = this.#el.filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    return words.every((w) => entry.haystack.includes(w));
  }

  #refilter(): void {
    this.#shown = 0;
    for (const e of this.#entries) {
      if (!e.element) continue;
      e.element.hidden = !this.#matches(e);
      if (!e.element.hidden) this.#shown++;
    }
    this.#updateCount();
  }

  #togglePause(): void {
    this.#paused = !this.#paused;
    this.#el.pause.setAttribute("aria-pressed", String(this.#paused));
    this.#el.pause.textContent = this.#paused ? "Resume" : "Pause";
    if (!this.#paused) {
      const held = this.#held;
      this.#held = [];
      for (const e of held) this.#append(e);
    }
    this.#updateCount();
  }

  #updateCount(): void {
    const shown = this.#shown;
    const held = this.#held.length ? `, ${this.#held.length} held while paused` : "";
    this.#el.count.textContent = `${shown} of ${this.#entries.length} packets shown${held}`;
  }
}
