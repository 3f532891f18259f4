// Browser (playground): the DOM helpers every panel uses: lookup by id, building elements, the
// screen-reader announcer, and Ctrl/Cmd+Enter in text areas.

/** The page's element with this id; throws so that an id missing from index.html fails loudly. */
export function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** Builds an element: `h("td", { class: "num", textContent: "3" }, ...children)`. */
export function h<K extends keyof HTMLElementTagNameMap>(
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

/** Tells screen readers about an outcome (a polite, visually hidden live region). */
export function announce(line: string): void {
  $("announcer").textContent = line;
}

/** Ctrl/Cmd+Enter in a textarea submits its form. */
export function submitOnCtrlEnter(area: HTMLTextAreaElement): void {
  area.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      area.form?.requestSubmit();
    }
  });
}
