/**
 * The User details and actions panel (opens from the right): title or number, role, account
 * summary with Assign / Unassign / Reset password / Remove account, Code (No code / Set, edit),
 * Label (editable only with a code), Partitions (a Master's fixed to all), Door locks, and the
 * proximity-tag sections where the panel type has them.
 */
import { enc, del, get, post, put, sentence } from "../api.js";
import { field, h, icon, replaceChildren } from "../dom.js";
import { fateBox } from "../fate.js";
import { formatCreated } from "../format.js";
import { dotsMenu } from "../menu.js";
import { confirmDialog, openModal, type Modal } from "../modal.js";
import type { PanelDetails } from "../panel.js";
import { can } from "../session.js";
import { openAssignAccount } from "./assign.js";
import { displayLabel, isMaster, rowActions, type UserRow } from "./users.js";

export interface UserDetails extends UserRow {
  schedule: unknown;
  doorLocks: string[];
  tags: { kind: string }[];
  person: { id: string; firstName: string; lastName: string } | null;
  version: number;
}

type Followed = (commands: string[], what: string) => void;

export function openUserDetails(panel: PanelDetails, slot: number, followed: Followed): Modal {
  const modal = openModal({ title: `# ${slot}`, kind: "drawer", content: h("p", { class: "loading" }, "Loading…") });
  modal.root.dataset.slot = String(slot);
  const fate = fateBox();
  const title = modal.root.querySelector<HTMLElement>(".modal-title")!;

  const load = async () => {
    let d: UserDetails;
    try {
      d = await get<UserDetails>(`/panels/${enc(panel.id)}/users/${slot}`);
    } catch (e) {
      replaceChildren(modal.body, h("p", { class: "error", role: "alert" }, sentence(e)));
      return;
    }
    title.textContent = d.codeSet ? displayLabel(d) : `# ${slot}`;
    paint(d);
  };
  const mine: Followed = (commands, what) => {
    followed(commands, what);
    void fate.follow(commands, what).then(() => load());
  };
  const fail = (e: unknown) => fate.fail(e);

  function paint(d: UserDetails): void {
    const manage = can("manage_panel_users");
    const head = h(
      "div",
      { class: "details-head" },
      h("p", { class: "details-role" }, h("span", { class: "muted" }, "Role: "), d.codeSet ? d.role : "-"),
      dotsMenu(`Actions for ${displayLabel(d)}`, rowActions(panel, d, mine, fail)),
    );
    const audit = d.personId
      ? h(
          "p",
          { class: "details-audit" },
          // the person's profile (000): Device Access at every panel, the Time tile, contacts
          h("a", { href: `/people/${enc(d.personId)}` }, "Open user profile"),
          can("view_action_log") ? [" · ", h("a", { href: `/action-log?panelId=${enc(panel.id)}&personId=${enc(d.personId)}` }, "This user in the Action log")] : null,
        )
      : null;
    // A repaint (after a fate arrives) keeps the keyboard where it was: on the control with the
    // same name, or on the panel's title when that control is gone (the page is inert behind it).
    const was = document.activeElement;
    const key = was instanceof HTMLElement && modal.body.contains(was) ? controlName(was) : null;
    replaceChildren(modal.body, head, fate.root, accountSection(d), codeSection(d, manage), labelSection(d, manage), roleSection(d, manage), partitionsSection(d, manage), doorLocksSection(d, manage), tagSections(d, manage), audit);
    if (key !== null && !modal.body.contains(document.activeElement)) {
      const same = [...modal.body.querySelectorAll<HTMLElement>("button, select, input, a[href]")].find((el) => controlName(el) === key);
      if (same) same.focus();
      else {
        title.tabIndex = -1;
        title.focus();
      }
    }
  }

  function controlName(el: HTMLElement): string {
    return `${el.tagName}:${el.getAttribute("aria-label") ?? el.id ?? ""}:${el.id ? "" : (el.textContent ?? "").trim()}`;
  }

  function accountSection(d: UserDetails): HTMLElement {
    const s = h("section", { class: "details-section", "aria-label": "Account" }, h("h3", null, "Account"));
    if (!d.account) {
      s.append(h("p", { class: "muted" }, "No account assigned."));
      if (d.codeSet && can("manage_accounts")) s.append(h("button", { type: "button", class: "button primary", onClick: () => openAssignAccount(panel, d.slot, mine) }, "Assign account"));
      return s;
    }
    const a = d.account;
    s.append(
      h("dl", { class: "summary" }, h("dt", null, "Email"), h("dd", null, a.email), h("dt", null, "Created"), h("dd", null, formatCreated(d.createdAt)), h("dt", null, "Status"), h("dd", null, d.status)),
    );
    const buttons = h("div", { class: "actions left" });
    if (can("manage_accounts")) buttons.append(h("button", { type: "button", class: "button", onClick: () => void unassign(d) }, "Unassign account"));
    if (can("manage_accounts")) {
      buttons.append(
        h("button", { type: "button", class: "button", onClick: () => void resetPassword(a.id, a.email) }, "Reset password"),
        h("button", { type: "button", class: "button danger", onClick: () => void removeAccount(a.id, a.email) }, "Remove account"),
      );
    }
    if (buttons.childElementCount > 0) s.append(buttons);
    return s;
  }

  async function unassign(d: UserDetails): Promise<void> {
    if (!(await confirmDialog({ title: "Unassign account?", message: h("p", null, `${d.account!.email} is unassigned from ${displayLabel(d)}. The customer account is not deleted.`), confirm: "Unassign account" }))) return;
    try {
      const out = await del<{ commands: string[] }>(`/panels/${enc(panel.id)}/users/${d.slot}/account`);
      mine(out.commands, `Unassign ${d.account!.email}`);
    } catch (e) {
      fail(e);
    }
  }

  async function resetPassword(id: string, email: string): Promise<void> {
    const ok = await confirmDialog({
      title: "Reset password?",
      message: [h("p", null, `An email with a one-time password (OTP) is sent to ${email}.`), h("p", null, "The old password may remain valid until the user sets a new password with the OTP.")],
      confirm: "Reset password",
    });
    if (!ok) return;
    try {
      await post(`/accounts/${enc(id)}/reset-password`);
      fate.note(`Password reset requested: an OTP email is on its way to ${email}.`);
    } catch (e) {
      fail(e);
    }
  }

  async function removeAccount(id: string, email: string): Promise<void> {
    const ok = await confirmDialog({
      title: "Remove account?",
      message: [
        h("p", null, `Remove account deletes the customer account ${email} entirely, and it is unassigned from every panel user. The user loses access to the customer application.`),
        h("p", null, "Removed accounts cannot be restored from the Users tab. Use Unassign account to only remove the link."),
      ],
      confirm: "Remove account",
      danger: true,
    });
    if (!ok) return;
    try {
      const out = await del<{ commands?: string[] }>(`/accounts/${enc(id)}`);
      // The account goes from every panel it was assigned at: those are commands like any other.
      mine(out?.commands ?? [], `Remove account ${email}`);
    } catch (e) {
      fail(e);
    }
  }

  function codeSection(d: UserDetails, manage: boolean): HTMLElement {
    const value = h("span", { class: "value", "data-field": "code" }, d.codeSet ? "Set" : "No code");
    const s = h("section", { class: "details-section", "aria-label": "Code" }, h("h3", null, "Code"), h("div", { class: "value-row" }, value));
    if (!manage) return s;
    const edit = h("button", { type: "button", class: "icon-button", "aria-label": d.codeSet ? "Edit code" : "Set code" }, icon("edit"));
    s.querySelector(".value-row")!.append(edit);
    edit.addEventListener("click", () => {
      const input = h("input", { type: "password", inputmode: "numeric", autocomplete: "off", "data-secret": "code", maxlength: panel.codeLength || 16 });
      const save = h("button", { type: "submit", class: "button primary" }, "Save");
      const cancel = h("button", { type: "button", class: "button" }, "Cancel");
      const form = h("form", { class: "inline-form" }, field(`New code (${panel.codeLength || 4} digits)`, input), h("div", { class: "actions left" }, cancel, save));
      cancel.addEventListener("click", () => form.replaceWith(h("span")));
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const code = input.value;
        // The code leaves the page in the one request that sets it, and is gone from the DOM at once.
        input.value = "";
        form.remove();
        edit.focus();
        void setCode(d, code);
      });
      s.append(form);
      input.focus();
    });
    return s;
  }

  async function setCode(d: UserDetails, code: string): Promise<void> {
    try {
      let personId = d.personId;
      const commands: string[] = [];
      if (!personId) {
        // A panel user number without a person: the code makes one (named by the slot's label).
        const p = await post<{ id: string }>("/people", { firstName: "User", lastName: String(d.slot) });
        personId = p.id;
      }
      const out = await put<{ commands: string[] }>(`/people/${enc(personId)}/code`, { code });
      commands.push(...out.commands);
      if (!d.personId || !d.enabled) {
        const on = await put<{ commands: string[] }>(`/people/${enc(personId)}/panels/${enc(panel.id)}`, { enabled: true, slot: d.slot });
        commands.push(...on.commands);
      }
      mine(commands, `Code of ${displayLabel(d)}`);
    } catch (e) {
      fail(e);
    }
  }

  function labelSection(d: UserDetails, manage: boolean): HTMLElement {
    const s = h("section", { class: "details-section", "aria-label": "Label" }, h("h3", null, "Label"), h("div", { class: "value-row" }, h("span", { class: "value", "data-field": "label" }, displayLabel(d))));
    if (!manage) return s;
    if (!d.codeSet) {
      s.append(h("p", { class: "hint" }, "You cannot change the label until a PIN/code is set for the panel user."));
      return s;
    }
    const edit = h("button", { type: "button", class: "icon-button", "aria-label": "Edit label" }, icon("edit"));
    s.querySelector(".value-row")!.append(edit);
    edit.addEventListener("click", () => {
      const input = h("input", { type: "text", value: displayLabel(d), maxlength: 32, autocomplete: "off" });
      const form = h("form", { class: "inline-form" }, field("Label", input), h("div", { class: "actions left" }, h("button", { type: "submit", class: "button primary" }, "Save")));
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        void saveAccess(d, { label: input.value.trim() }, `Label of ${displayLabel(d)}`);
      });
      s.append(form);
      input.focus();
      input.select();
    });
    return s;
  }

  async function saveAccess(d: UserDetails, change: Record<string, unknown>, what: string): Promise<void> {
    if (!d.personId) return;
    try {
      const out = await put<{ commands: string[] }>(`/people/${enc(d.personId)}/panels/${enc(panel.id)}`, { enabled: true, ...change });
      mine(out.commands, what);
    } catch (e) {
      fail(e);
    }
  }

  /**
   * The role, from the roles of the panel's type (001: "Available user roles depend on the
   * selected panel type"). The rules are the agent's: the Master's user number keeps the Master
   * role and no other number takes it, so a Master shows its role fixed; the API refuses anyway.
   */
  function roleSection(d: UserDetails, manage: boolean): HTMLElement {
    const s = h("section", { class: "details-section", "aria-label": "Role" }, h("h3", null, "Role"), h("div", { class: "value-row" }, h("span", { class: "value", "data-field": "role" }, d.codeSet ? d.role : "-")));
    if (!d.codeSet) {
      if (manage) s.append(h("p", { class: "hint" }, "The role can be chosen once a PIN/code is set for the panel user."));
      return s;
    }
    if (isMaster(d)) {
      s.append(h("p", { class: "hint" }, "The Master user's role is fixed: it cannot be changed, and no other user can be made Master."));
      return s;
    }
    const roles = (panel.features?.roles ?? []).filter((r) => r !== "Master");
    if (!manage || roles.length < 2) return s;
    const select = h("select", { id: `role-${d.slot}` }, roles.map((r) => h("option", { value: r, selected: r === d.role }, r)));
    const save = h("button", { type: "button", class: "button" }, "Save role");
    save.addEventListener("click", () => {
      if (select.value === d.role) return fate.note("The role is unchanged.");
      void saveAccess(d, { role: select.value }, `Role of ${displayLabel(d)}`);
    });
    s.append(h("div", { class: "inline-form" }, field("Change role", select), h("div", { class: "actions left" }, save)));
    return s;
  }

  function partitionsSection(d: UserDetails, manage: boolean): HTMLElement {
    const master = isMaster(d);
    const all = Array.from({ length: panel.partitions }, (_, i) => i + 1);
    const chosen = new Set(master ? all : d.partitions);
    const editable = manage && d.codeSet && !master;
    const boxes = all.map((n) => {
      const input = h("input", { type: "checkbox", value: n, checked: chosen.has(n), disabled: !editable, id: `partition-${d.slot}-${n}` });
      return { n, input, el: h("label", { class: "check", for: input.id }, input, ` Partition ${n}`) };
    });
    const s = h("fieldset", { class: "details-section partitions" }, h("legend", null, "Partitions"), h("div", { class: "checks" }, boxes.map((b) => b.el)));
    if (master) s.append(h("p", { class: "hint" }, "Master users are always assigned to all partitions of the panel."));
    else if (!d.codeSet) s.append(h("p", { class: "hint" }, "Partitions cannot be changed until a PIN/code is set for the panel user."));
    if (editable) {
      const save = h("button", { type: "button", class: "button" }, "Save partitions");
      save.addEventListener("click", () => {
        const partitions = boxes.filter((b) => b.input.checked).map((b) => b.n);
        void saveAccess(d, { partitions }, `Partitions of ${displayLabel(d)}`);
      });
      s.append(h("div", { class: "actions left" }, save));
    }
    return s;
  }

  /**
   * Door locks: "No door locks" or the count and the list; where the panel has door locks, a
   * person who manages panel users chooses them (once a code is set).
   */
  function doorLocksSection(d: UserDetails, manage: boolean): HTMLElement {
    const locks = d.doorLocks ?? [];
    const s = h(
      "section",
      { class: "details-section", "aria-label": "Door locks" },
      h("h3", null, "Door locks"),
      locks.length === 0 ? h("p", { class: "muted", "data-field": "door-locks" }, "No door locks") : [h("p", { "data-field": "door-locks" }, `${locks.length} door lock${locks.length === 1 ? "" : "s"}`), h("ul", null, locks.map((l) => h("li", null, l)))],
    );
    const panelLocks = panel.features?.doorLocks ?? [];
    if (!manage || panelLocks.length === 0) return s;
    if (!d.codeSet) {
      s.append(h("p", { class: "hint" }, "Door locks can be assigned once a PIN/code is set for the panel user."));
      return s;
    }
    const boxes = panelLocks.map((lock, n) => {
      const input = h("input", { type: "checkbox", value: lock, checked: locks.includes(lock), id: `door-${d.slot}-${n}` });
      return { lock, input, el: h("label", { class: "check", for: input.id }, input, ` ${lock}`) };
    });
    const save = h("button", { type: "button", class: "button" }, "Save door locks");
    save.addEventListener("click", () => void saveAccess(d, { doorLocks: boxes.filter((b) => b.input.checked).map((b) => b.lock) }, `Door locks of ${displayLabel(d)}`));
    s.append(h("fieldset", { class: "door-lock-choice" }, h("legend", null, "Assigned door locks"), h("div", { class: "checks" }, boxes.map((b) => b.el))), h("div", { class: "actions left" }, save));
    return s;
  }

  /**
   * Legacy proximity tags (keypads with proximity readers) and doorlock proximity tags (Yale
   * Doorman L2/L3), where the panel type has them. A tag's id is a secret like a code: typed into
   * a masked field, sent in the one request that adds it, cleared at once, never shown back (a tag
   * is "Set").
   */
  function tagSections(d: UserDetails, manage: boolean): HTMLElement[] {
    const kinds = panel.features?.tags ?? [];
    const max = panel.features?.maxTags ?? 0;
    const tags = (d.tags ?? []).map((t, index) => ({ kind: t.kind, index }));
    const sections: { kind: "keypad" | "doorlock"; title: string; none: string; what: string }[] = [
      { kind: "keypad", title: "Legacy proximity tags", none: "No proximity tags", what: "for keypads with proximity readers" },
      { kind: "doorlock", title: "Doorlock proximity tags", none: "No doorlock proximity tags", what: "for Yale Doorman L2/L3 door locks" },
    ];
    return sections
      .filter((k) => kinds.includes(k.kind))
      .map((k) => {
        const mine = tags.filter((t) => t.kind === k.kind);
        const s = h(
          "section",
          { class: "details-section tags", "aria-label": k.title, "data-kind": k.kind },
          h("h3", null, k.title),
          mine.length === 0
            ? h("p", { class: "muted", "data-field": `tags-${k.kind}` }, k.none)
            : [
                h("p", { "data-field": `tags-${k.kind}` }, `${mine.length} tag${mine.length === 1 ? "" : "s"} ${k.what}`),
                h(
                  "ul",
                  { class: "tag-list" },
                  mine.map((t, n) =>
                    h(
                      "li",
                      null,
                      h("span", null, `Tag ${n + 1}: `, h("span", { class: "code-set" }, "Set")),
                      manage ? h("button", { type: "button", class: "button subtle", "aria-label": `Remove ${k.title.toLowerCase().replace(/s$/, "")} ${n + 1}`, onClick: () => void removeTag(d, t.index, k.title) }, "Remove") : null,
                    ),
                  ),
                ),
              ],
        );
        if (!manage) return s;
        if (!d.codeSet) {
          s.append(h("p", { class: "hint" }, "Tags can be added once a PIN/code is set for the panel user."));
          return s;
        }
        if (tags.length >= max) {
          s.append(h("p", { class: "hint" }, `This panel type holds at most ${max} proximity tag${max === 1 ? "" : "s"} per user: remove one to add another.`));
          return s;
        }
        const add = h("button", { type: "button", class: "button", "aria-label": `Add ${k.title.toLowerCase().replace(/s$/, "")}` }, "Add tag");
        add.addEventListener("click", () => {
          add.hidden = true;
          const input = h("input", { type: "password", autocomplete: "off", "data-secret": "tag", minlength: 4, maxlength: 64, required: true });
          const cancel = h("button", { type: "button", class: "button" }, "Cancel");
          const form = h("form", { class: "inline-form" }, field("Tag id (as the reader reads it)", input), h("div", { class: "actions left" }, cancel, h("button", { type: "submit", class: "button primary" }, "Save tag")));
          cancel.addEventListener("click", () => {
            input.value = "";
            form.remove();
            add.hidden = false;
            add.focus();
          });
          form.addEventListener("submit", (ev) => {
            ev.preventDefault();
            const id = input.value;
            // Like a code: out of the DOM before the one request that carries it.
            input.value = "";
            form.remove();
            add.hidden = false;
            add.focus();
            void addTag(d, k.kind, id, k.title);
          });
          s.append(form);
          input.focus();
        });
        s.append(h("div", { class: "actions left" }, add));
        return s;
      });
  }

  async function addTag(d: UserDetails, kind: "keypad" | "doorlock", id: string, title: string): Promise<void> {
    try {
      const out = await post<{ commands: string[] }>(`/panels/${enc(panel.id)}/users/${d.slot}/tags`, { kind, id });
      mine(out.commands, `${title}: add a tag to ${displayLabel(d)}`);
    } catch (e) {
      fail(e);
    }
  }

  async function removeTag(d: UserDetails, index: number, title: string): Promise<void> {
    const ok = await confirmDialog({ title: "Remove proximity tag?", message: h("p", null, `The tag no longer opens anything for ${displayLabel(d)} on this panel.`), confirm: "Remove tag", danger: true });
    if (!ok) return;
    try {
      const out = await del<{ commands: string[] }>(`/panels/${enc(panel.id)}/users/${d.slot}/tags/${index}`);
      mine(out.commands, `${title}: remove a tag from ${displayLabel(d)}`);
    } catch (e) {
      fail(e);
    }
  }

  void load();
  return modal;
}
