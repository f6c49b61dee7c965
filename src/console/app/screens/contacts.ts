/**
 * CONTACT INFORMATION of the User Profile (000_*.txt steps 8-9): Add Contact, CONTACT TYPE Mobile
 * Number (SMS, country, carrier) or Email Address, the Enable switch, Save.
 */
import { enc, put, sentence } from "../api.js";
import { field, h, toggle, uid } from "../dom.js";
import { openModal } from "../modal.js";
import { can } from "../session.js";

export interface Contact {
  kind: "mobile" | "email";
  value: string;
  country?: string | null;
  carrier?: string | null;
  enabled: boolean;
}

const COUNTRIES: [string, string][] = [
  ["US", "United States"],
  ["CA", "Canada"],
  ["MX", "Mexico"],
  ["GB", "United Kingdom"],
  ["IE", "Ireland"],
  ["DE", "Germany"],
  ["FR", "France"],
  ["ES", "Spain"],
  ["IT", "Italy"],
  ["NL", "Netherlands"],
  ["BE", "Belgium"],
  ["SE", "Sweden"],
  ["NO", "Norway"],
  ["DK", "Denmark"],
  ["FI", "Finland"],
  ["PL", "Poland"],
  ["PT", "Portugal"],
  ["CH", "Switzerland"],
  ["AT", "Austria"],
  ["AU", "Australia"],
  ["NZ", "New Zealand"],
  ["IL", "Israel"],
  ["ZA", "South Africa"],
  ["BR", "Brazil"],
  ["IN", "India"],
  ["JP", "Japan"],
];

const toBody = (c: Contact) =>
  c.kind === "mobile" ? { kind: "mobile", value: c.value, ...(c.country ? { country: c.country } : {}), ...(c.carrier ? { carrier: c.carrier } : {}), enabled: c.enabled } : { kind: "email", value: c.value, enabled: c.enabled };

export function contactsSection(person: { id: string; contacts: Contact[] }, fail: (e: unknown) => void, note: (text: string) => void): HTMLElement {
  const list = h("ul", { class: "contacts" });
  const paint = () => {
    list.replaceChildren(
      ...(person.contacts.length === 0
        ? [h("li", { class: "muted" }, "No contact information.")]
        : person.contacts.map((c) =>
            h(
              "li",
              { "data-kind": c.kind },
              h("span", { class: "contact-kind" }, c.kind === "mobile" ? "Mobile Number (SMS)" : "Email Address"),
              " ",
              h("span", { class: "contact-value" }, c.value),
              c.kind === "mobile" && (c.country || c.carrier) ? h("span", { class: "muted" }, ` ${[c.country, c.carrier].filter(Boolean).join(" · ")}`) : null,
              h("span", { class: `badge ${c.enabled ? "ok" : "muted"}` }, c.enabled ? "Enabled" : "Disabled"),
            ),
          )),
    );
  };
  paint();
  const add = can("manage_panel_users")
    ? h("button", { type: "button", class: "button", onClick: () => openAddContact(person, (next) => {
        person.contacts = next;
        paint();
        note("Contact information saved.");
      }, fail) }, "Add Contact")
    : null;
  return h("section", { class: "card", "aria-labelledby": "contacts-title" }, h("h2", { id: "contacts-title" }, "CONTACT INFORMATION"), list, add);
}

function openAddContact(person: { id: string; contacts: Contact[] }, saved: (contacts: Contact[]) => void, fail: (e: unknown) => void): void {
  const group = uid("contact-type");
  const mobileRadio = h("input", { type: "radio", name: group, value: "mobile", id: `${group}-mobile`, checked: true });
  const emailRadio = h("input", { type: "radio", name: group, value: "email", id: `${group}-email` });
  const number = h("input", { type: "tel", autocomplete: "off", maxlength: 32 });
  const country = h("select", null, COUNTRIES.map(([code, name]) => h("option", { value: code }, `${name} (${code})`)));
  const carrier = h("input", { type: "text", autocomplete: "off", maxlength: 64 });
  const email = h("input", { type: "email", autocomplete: "off", maxlength: 254 });
  const mobileEnabled = toggle("Enable", true);
  const emailEnabled = toggle("Enable", true);
  const mobileFields = h("div", { class: "contact-fields" }, field("Mobile Number (SMS)", number), field("Country", country), field("Carrier", carrier), mobileEnabled.root);
  const emailFields = h("div", { class: "contact-fields" }, field("Email Address", email), emailEnabled.root);
  const error = h("p", { class: "error", role: "alert" });
  const save = h("button", { type: "submit", class: "button primary" }, "Save");
  const cancel = h("button", { type: "button", class: "button" }, "Cancel");
  const form = h(
    "form",
    { novalidate: true },
    h("fieldset", null, h("legend", null, "CONTACT TYPE"), h("label", { class: "radio", for: mobileRadio.id }, mobileRadio, " Mobile Number"), h("label", { class: "radio", for: emailRadio.id }, emailRadio, " Email Address")),
    mobileFields,
    emailFields,
    error,
    h("div", { class: "actions" }, cancel, save),
  );
  const sync = () => {
    mobileFields.hidden = !mobileRadio.checked;
    emailFields.hidden = !emailRadio.checked;
  };
  mobileRadio.addEventListener("change", sync);
  emailRadio.addEventListener("change", sync);
  sync();
  const modal = openModal({ title: "Add Contact", content: form });
  cancel.addEventListener("click", () => modal.close());
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const contact: Contact = mobileRadio.checked
      ? { kind: "mobile", value: number.value.trim(), country: country.value, carrier: carrier.value.trim() || null, enabled: mobileEnabled.input.checked }
      : { kind: "email", value: email.value.trim(), enabled: emailEnabled.input.checked };
    if (!contact.value) return void (error.textContent = contact.kind === "mobile" ? "Enter the mobile number." : "Enter the email address.");
    const next = [...person.contacts, contact];
    save.disabled = true;
    put<unknown>(`/people/${enc(person.id)}/contacts`, next.map(toBody))
      .then(() => {
        modal.close();
        saved(next);
      })
      .catch((e) => {
        save.disabled = false;
        error.textContent = sentence(e);
        fail(e);
      });
  });
}
