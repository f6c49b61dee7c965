/**
 * Modals and the details panel that opens from the right: role=dialog, aria-modal, the rest of the
 * page inert while one is open, Tab and Shift+Tab kept inside, Escape closes the top one, and focus
 * goes back to what opened it.
 */
import { h, icon, uid, type Child } from "./dom.js";

export interface Modal {
  root: HTMLDivElement;
  body: HTMLDivElement;
  close(): void;
  closed: Promise<void>;
}

const stack: Modal[] = [];
const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

function focusables(el: HTMLElement): HTMLElement[] {
  return [...el.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((e) => !e.closest("[hidden]") && e.getClientRects().length > 0);
}

document.addEventListener("keydown", (ev) => {
  const top = stack[stack.length - 1];
  if (!top) return;
  if (ev.key === "Escape") {
    ev.preventDefault();
    top.close();
    return;
  }
  if (ev.key !== "Tab") return;
  const items = focusables(top.root);
  if (items.length === 0) {
    ev.preventDefault();
    return;
  }
  const first = items[0]!;
  const last = items[items.length - 1]!;
  const active = document.activeElement;
  if (!top.root.contains(active)) {
    ev.preventDefault();
    first.focus();
  } else if (ev.shiftKey && active === first) {
    ev.preventDefault();
    last.focus();
  } else if (!ev.shiftKey && active === last) {
    ev.preventDefault();
    first.focus();
  }
});

function syncInert(): void {
  const top = stack[stack.length - 1];
  for (const child of [...document.body.children]) {
    if (!(child instanceof HTMLElement)) continue;
    child.inert = top !== undefined && child !== top.root;
  }
}

export function openModal(opts: { title: string; kind?: "dialog" | "drawer"; content: Child; onClose?: () => void; label?: string }): Modal {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = uid("modal-title");
  const body = h("div", { class: "modal-body" });
  const closeButton = h("button", { type: "button", class: "icon-button modal-close", "aria-label": "Close" }, icon("close"));
  const panel = h(
    "div",
    { class: `modal-panel ${opts.kind === "drawer" ? "drawer" : "dialog"}`, role: "dialog", "aria-modal": "true", "aria-labelledby": titleId },
    h("header", { class: "modal-header" }, h("h2", { id: titleId, class: "modal-title" }, opts.title), closeButton),
    body,
  );
  const root = h("div", { class: `modal-backdrop ${opts.kind === "drawer" ? "drawer-backdrop" : ""}` }, panel);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let done = false;
  const modal: Modal = {
    root,
    body,
    closed,
    close() {
      if (done) return;
      done = true;
      const i = stack.indexOf(modal);
      if (i >= 0) stack.splice(i, 1);
      root.remove();
      syncInert();
      opts.onClose?.();
      resolveClosed();
      if (opener && opener.isConnected) opener.focus();
    },
  };
  closeButton.addEventListener("click", () => modal.close());
  root.addEventListener("mousedown", (ev) => {
    if (ev.target === root) modal.close();
  });
  if (Array.isArray(opts.content)) for (const c of opts.content) body.append(c as Node);
  else if (opts.content instanceof Node) body.append(opts.content);
  document.body.append(root);
  stack.push(modal);
  syncInert();
  const first = focusables(body)[0] ?? closeButton;
  first.focus();
  return modal;
}

/** A confirmation prompt; resolves true only on the confirm button. */
export function confirmDialog(opts: { title: string; message: Child; confirm: string; danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = false;
    const yes = h("button", { type: "button", class: opts.danger ? "button danger" : "button primary" }, opts.confirm);
    const no = h("button", { type: "button", class: "button" }, "Cancel");
    const m = openModal({
      title: opts.title,
      content: [h("div", { class: "confirm-message" }, opts.message), h("div", { class: "actions" }, no, yes)],
      onClose: () => resolve(answer),
    });
    yes.addEventListener("click", () => {
      answer = true;
      m.close();
    });
    no.addEventListener("click", () => m.close());
    no.focus();
  });
}

export function closeAllModals(): void {
  while (stack.length > 0) stack[stack.length - 1]!.close();
}
