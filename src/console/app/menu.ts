/**
 * The three-dot menu: a button (aria-haspopup=menu) and a list of menuitems; arrows move, Escape
 * and a click elsewhere close it. Shown only when it has items.
 */
import { h, icon } from "./dom.js";

export interface MenuItem {
  label: string;
  danger?: boolean;
  run(): void;
}

export function dotsMenu(label: string, items: MenuItem[]): HTMLElement | null {
  if (items.length === 0) return null;
  const button = h("button", { type: "button", class: "icon-button dots", "aria-label": label, "aria-haspopup": "menu", "aria-expanded": "false" }, icon("dots"));
  const list = h("div", { class: "menu", role: "menu", hidden: true, "aria-label": label });
  const root = h("div", { class: "menu-wrap" }, button, list);
  const entries = items.map((item) => {
    const b = h("button", { type: "button", role: "menuitem", class: item.danger ? "danger" : "", tabindex: "-1" }, item.label);
    b.addEventListener("click", (ev) => {
      ev.stopPropagation();
      close(false);
      item.run();
    });
    return b;
  });
  list.append(...entries);
  const onOutside = (ev: MouseEvent) => {
    if (!root.contains(ev.target as Node)) close(false);
  };
  function open(): void {
    list.hidden = false;
    button.setAttribute("aria-expanded", "true");
    entries[0]!.focus();
    document.addEventListener("mousedown", onOutside);
  }
  function close(refocus: boolean): void {
    list.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("mousedown", onOutside);
    if (refocus) button.focus();
  }
  button.addEventListener("click", (ev) => {
    ev.stopPropagation();
    if (list.hidden) open();
    else close(true);
  });
  // Enter and Space on the button are its own (not the grid row's); Escape and Tab go on to the
  // open panel or modal (close it, keep Tab inside it), as from any other control.
  button.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") ev.stopPropagation();
  });
  list.addEventListener("keydown", (ev) => {
    ev.stopPropagation();
    const i = entries.indexOf(document.activeElement as HTMLButtonElement);
    if (ev.key === "ArrowDown") entries[(i + 1) % entries.length]!.focus();
    else if (ev.key === "ArrowUp") entries[(i - 1 + entries.length) % entries.length]!.focus();
    else if (ev.key === "Escape") close(true);
    else if (ev.key === "Tab") close(false);
    else return;
    if (ev.key !== "Tab") ev.preventDefault();
  });
  return root;
}
