/**
 * The modal "Assign account to panel <IMEI>": the Email field shows matching accounts, one must be
 * picked from the suggestions (typed text alone is not enough), a suspended account is refused;
 * the User dropdown lists the panel users with a code; Cancel; Save.
 */
import { enc, get, put, qs, sentence } from "../api.js";
import { h, uid } from "../dom.js";
import { openModal } from "../modal.js";
import type { Page } from "../pager.js";
import type { PanelDetails } from "../panel.js";
import { displayLabel, type AccountRef, type UserRow } from "./users.js";

interface AccountSuggestion extends AccountRef {
  createdAt: string;
}

const SUSPENDED = "A suspended account cannot be assigned to a panel user.";

export function openAssignAccount(panel: PanelDetails, slot: number | null, followed: (commands: string[], what: string) => void): void {
  const listId = uid("account-suggestions");
  const email = h("input", {
    type: "text",
    id: uid("assign-email"),
    role: "combobox",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": listId,
    autocomplete: "off",
    inputmode: "email",
    placeholder: "Type an email, then pick the account",
  });
  const list = h("ul", { id: listId, role: "listbox", class: "suggestions", hidden: true, "aria-label": "Matching accounts" });
  const user = h("select", { id: uid("assign-user") }, h("option", { value: "" }, "Select a panel user"));
  const error = h("p", { class: "error", role: "alert" });
  const cancel = h("button", { type: "button", class: "button" }, "Cancel");
  const save = h("button", { type: "submit", class: "button primary" }, "Save");
  const form = h(
    "form",
    { class: "assign-form", novalidate: true },
    h("div", { class: "field combo" }, h("label", { for: email.id }, "Email"), email, list),
    h("div", { class: "field" }, h("label", { for: user.id }, "User"), user),
    h("p", { class: "hint" }, SUSPENDED),
    error,
    h("div", { class: "actions" }, cancel, save),
  );
  const modal = openModal({ title: `Assign account to panel ${panel.id}`, content: form });
  modal.root.classList.add("assign-modal");
  cancel.addEventListener("click", () => modal.close());

  let picked: AccountSuggestion | null = null;
  let options: AccountSuggestion[] = [];
  let active = -1;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let asked = 0;

  const showList = (show: boolean) => {
    list.hidden = !show;
    email.setAttribute("aria-expanded", String(show));
  };
  const paintList = () => {
    list.replaceChildren(
      ...options.map((a, i) => {
        const li = h(
          "li",
          { role: "option", id: `${listId}-${i}`, "aria-selected": String(i === active), "aria-disabled": a.status === "Suspended" ? "true" : null, class: a.status === "Suspended" ? "suspended" : "" },
          h("span", null, a.email),
          h("span", { class: "muted" }, ` ${a.status}`),
        );
        li.addEventListener("mousedown", (ev) => {
          ev.preventDefault();
          pick(a);
        });
        return li;
      }),
    );
    if (options.length === 0) list.append(h("li", { class: "muted", role: "option", "aria-disabled": "true" }, "No matching account"));
    if (active >= 0) email.setAttribute("aria-activedescendant", `${listId}-${active}`);
    else email.removeAttribute("aria-activedescendant");
    showList(true);
  };
  const pick = (a: AccountSuggestion) => {
    if (a.status === "Suspended") {
      error.textContent = SUSPENDED;
      picked = null;
      return;
    }
    picked = a;
    email.value = a.email;
    error.textContent = "";
    showList(false);
  };
  email.addEventListener("input", () => {
    picked = null;
    active = -1;
    clearTimeout(timer);
    const q = email.value.trim();
    if (q.length === 0) {
      showList(false);
      return;
    }
    timer = setTimeout(() => {
      const mine = ++asked;
      get<{ rows: AccountSuggestion[] }>(`/accounts${qs({ q })}`)
        .then((r) => {
          if (mine !== asked) return;
          options = r.rows;
          error.textContent = "";
          paintList();
        })
        .catch((e) => {
          if (mine !== asked) return;
          showList(false);
          error.textContent = sentence(e);
        });
    }, 150);
  });
  email.addEventListener("keydown", (ev) => {
    if (list.hidden || options.length === 0) return;
    if (ev.key === "ArrowDown") active = (active + 1) % options.length;
    else if (ev.key === "ArrowUp") active = (active - 1 + options.length) % options.length;
    else if (ev.key === "Enter" && active >= 0) {
      ev.preventDefault();
      pick(options[active]!);
      return;
    } else if (ev.key === "Escape") {
      ev.stopPropagation();
      showList(false);
      return;
    } else return;
    ev.preventDefault();
    paintList();
  });
  email.addEventListener("blur", () => setTimeout(() => showList(false), 100));

  // The User dropdown: every panel user with a code (the ones an account can be linked to).
  void (async () => {
    try {
      const users: UserRow[] = [];
      for (let page = 1; ; page++) {
        const p = await get<Page<UserRow>>(`/panels/${enc(panel.id)}/users${qs({ page, perPage: 200 })}`);
        users.push(...p.rows.filter((r) => r.codeSet));
        if (page >= p.pages) break;
      }
      user.append(...users.map((r) => h("option", { value: r.slot, selected: r.slot === slot }, `${r.slot} · ${displayLabel(r)}${r.account ? ` (${r.account.email})` : ""}`)));
      if (slot !== null) user.value = String(slot);
    } catch (e) {
      error.textContent = sentence(e);
    }
  })();

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!picked) {
      error.textContent = email.value.trim() ? "Select the account from the suggestions." : "Enter the account's email and select it from the suggestions.";
      email.focus();
      return;
    }
    if (!user.value) {
      error.textContent = "Select a panel user.";
      user.focus();
      return;
    }
    const account = picked;
    save.disabled = true;
    put<{ commands: string[] }>(`/panels/${enc(panel.id)}/users/${Number(user.value)}/account`, { accountId: account.id })
      .then((out) => {
        modal.close();
        followed(out.commands, `Assign ${account.email} to panel user ${user.value}`);
      })
      .catch((e) => {
        save.disabled = false;
        error.textContent = sentence(e);
      });
  });
}
