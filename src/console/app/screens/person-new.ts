/** New user (000_*.txt step 5): First Name, Last Name, Create; then the Device Access screen. */
import { enc, post, sentence } from "../api.js";
import { field, h, replaceChildren } from "../dom.js";
import { navigate, type ScreenContext } from "../router.js";

export function newPersonScreen(ctx: ScreenContext): void {
  const first = h("input", { type: "text", autocomplete: "off", required: true, maxlength: 128, id: "new-first-name" });
  const last = h("input", { type: "text", autocomplete: "off", required: true, maxlength: 128, id: "new-last-name" });
  const error = h("p", { class: "error", role: "alert" });
  const create = h("button", { type: "submit", class: "button primary" }, "Create");
  const form = h("form", { class: "card narrow", "aria-labelledby": "new-user-title" }, h("h1", { id: "new-user-title" }, "New User"), field("First Name", first), field("Last Name", last), error, h("div", { class: "actions" }, create));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    create.disabled = true;
    post<{ id: string }>("/people", { firstName: first.value.trim(), lastName: last.value.trim() })
      .then((p) => navigate(`/people/${enc(p.id)}?step=device-access`))
      .catch((e) => {
        create.disabled = false;
        error.textContent = sentence(e);
      });
  });
  replaceChildren(ctx.main, form);
  first.focus();
}
