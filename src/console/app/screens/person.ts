/**
 * A person's screens (000_*.txt steps 6-9): Device Access (an access code typed or generated, a
 * switch per security panel, Save), and the User Profile with its Time tile (the access period)
 * and contact information.
 */
import { enc, get, put, qs } from "../api.js";
import { field, h, replaceChildren, toggle } from "../dom.js";
import { fateBox } from "../fate.js";
import type { Page } from "../pager.js";
import type { PanelDetails } from "../panel.js";
import type { ScreenContext } from "../router.js";
import { can } from "../session.js";
import type { PanelSummary } from "./equipment.js";
import { accessPeriodText, openAccessPeriod, type AccessPeriod } from "./access-period.js";
import { contactsSection, type Contact } from "./contacts.js";

export interface PersonDetails {
  id: string;
  firstName: string;
  lastName: string;
  codeSet: boolean;
  contacts: Contact[];
  accounts?: { id: string; email: string; status: string; createdAt: string }[];
  accessPeriod?: AccessPeriod | null;
  panels?: { panelId: string; enabled: boolean; slot: number | null }[];
}

export async function personScreen(ctx: ScreenContext): Promise<void> {
  const id = ctx.params.id!;
  const [person, panels] = await Promise.all([get<PersonDetails>(`/people/${enc(id)}`), get<Page<PanelSummary>>(`/panels${qs({ perPage: 200 })}`)]);
  if (ctx.signal.aborted) return;
  const fate = fateBox();
  const name = `${person.firstName} ${person.lastName}`;
  replaceChildren(
    ctx.main,
    h(
      "section",
      { class: "page person" },
      h("header", { class: "page-header" }, h("h1", null, name)),
      fate.root,
      deviceAccess(person, panels, fate, () => void reload()),
      timeTile(person, fate),
      contactsSection(person, (e) => fate.fail(e), (text) => fate.note(text)),
    ),
  );
  async function reload(): Promise<void> {
    try {
      const fresh = await get<PersonDetails>(`/people/${enc(id)}`);
      person.codeSet = fresh.codeSet;
      person.panels = fresh.panels;
      const status = ctx.main.querySelector<HTMLElement>("[data-field=person-code]");
      if (status) status.textContent = fresh.codeSet ? "Set" : "No code";
    } catch (e) {
      fate.fail(e);
    }
  }
  if (ctx.query.get("step") === "device-access") ctx.main.querySelector<HTMLInputElement>("#access-code")?.focus();
}

function deviceAccess(person: PersonDetails, panels: Page<PanelSummary>, fate: ReturnType<typeof fateBox>, saved: () => void): HTMLElement {
  const manage = can("manage_panel_users");
  const code = h("input", { type: "password", id: "access-code", inputmode: "numeric", autocomplete: "off", maxlength: 16, "data-secret": "code", disabled: !manage });
  const generateNote = h("p", { class: "hint", "aria-live": "polite" });
  let generate = false;
  code.addEventListener("input", () => {
    if (code.value) {
      generate = false;
      generateNote.textContent = "";
    }
  });
  const generateButton = manage
    ? h("button", { type: "button", class: "button", onClick: () => {
        generate = true;
        code.value = "";
        generateNote.textContent = "A random code is generated when you save. It is shown once.";
      } }, "Generate code")
    : null;
  const shown = h("div", { class: "generated-host" });
  const on = new Map((person.panels ?? []).map((p) => [p.panelId, p.enabled]));
  const switches = panels.rows.map((p) => ({ panel: p, ...toggle(p.id, on.get(p.id) ?? false, undefined, !manage) }));
  const save = manage ? h("button", { type: "submit", class: "button primary" }, "Save") : null;
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "device-access-title" },
    h("h2", { id: "device-access-title" }, "Device Access"),
    h("p", null, "Code: ", h("span", { "data-field": "person-code" }, person.codeSet ? "Set" : "No code")),
    h("div", { class: "code-row" }, field("ACCESS CODE", code, person.codeSet ? "Leave empty to keep the current code." : undefined), generateButton),
    generateNote,
    shown,
    h("fieldset", { class: "panels" }, h("legend", null, "SECURITY PANELS"), switches.length > 0 ? switches.map((s) => h("div", { class: "panel-switch", "data-panel": s.panel.id }, s.root, h("span", { class: "muted" }, ` ${s.panel.type}`))) : h("p", { class: "muted" }, "No panels.")),
    save ? h("div", { class: "actions" }, save) : null,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const typed = code.value;
    // The typed code goes in the one request that sets it; it is gone from the DOM before that.
    code.value = "";
    const wantGenerate = generate;
    generate = false;
    generateNote.textContent = "";
    void (async () => {
      save!.disabled = true;
      const commands: string[] = [];
      try {
        const changes = switches.filter((s) => s.input.checked !== (on.get(s.panel.id) ?? false));
        if (typed || wantGenerate) {
          let body: Record<string, unknown> = { code: typed };
          if (wantGenerate) {
            body = { generate: true };
            const chosen = switches.filter((s) => s.input.checked);
            const lengths = new Set((await Promise.all(chosen.map((s) => get<PanelDetails>(`/panels/${enc(s.panel.id)}`)))).map((p) => p.codeLength));
            if (lengths.size === 1) body.length = [...lengths][0];
          }
          const out = await put<{ commands: string[]; code?: string }>(`/people/${enc(person.id)}/code`, body);
          commands.push(...out.commands);
          if (out.code) showGeneratedOnce(shown, out.code);
        }
        for (const s of changes) {
          const out = await put<{ commands: string[] }>(`/people/${enc(person.id)}/panels/${enc(s.panel.id)}`, { enabled: s.input.checked });
          on.set(s.panel.id, s.input.checked);
          commands.push(...out.commands);
        }
        await fate.follow(commands, "Device access");
      } catch (e) {
        fate.fail(e);
      } finally {
        save!.disabled = false;
        saved();
      }
    })();
  });
  return form;
}

/** A generated code, shown once: Dismiss removes it from the DOM, and nothing keeps it. */
function showGeneratedOnce(host: HTMLElement, code: string): void {
  const dismiss = h("button", { type: "button", class: "button" }, "Dismiss");
  const box = h(
    "div",
    { class: "generated", role: "region", "aria-label": "Generated code" },
    h("p", null, "Generated code, shown this once: tell it to the user now."),
    h("p", { class: "generated-code", "data-secret": "generated" }, code),
    dismiss,
  );
  dismiss.addEventListener("click", () => {
    box.remove();
  });
  host.replaceChildren(box);
  dismiss.focus();
}

function timeTile(person: PersonDetails, fate: ReturnType<typeof fateBox>): HTMLElement {
  const summary = h("span", { class: "tile-value", "data-field": "access-period" }, accessPeriodText(person.accessPeriod ?? { kind: "always" }));
  const tile = h("button", { type: "button", class: "tile", "aria-describedby": "time-tile-value", disabled: !can("manage_panel_users") }, h("span", { class: "tile-title" }, "Time"), summary);
  summary.id = "time-tile-value";
  tile.addEventListener("click", () =>
    openAccessPeriod(person, (period, commands) => {
      person.accessPeriod = period;
      summary.textContent = accessPeriodText(period);
      void fate.follow(commands, "Access period");
    }),
  );
  return h("section", { class: "card", "aria-labelledby": "profile-title" }, h("h2", { id: "profile-title" }, "User Profile"), h("div", { class: "tiles" }, tile));
}

