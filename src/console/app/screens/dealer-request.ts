/** The page the dealer's emailed Grant Access link opens: the Master confirms 24 hours of access. */
import { enc, get, post, sentence } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { fateBox } from "../fate.js";
import { formatCreated } from "../format.js";
import type { ScreenContext } from "../router.js";
import { signedIn } from "../session.js";

interface DealerRequest {
  panelId: string;
  requestedAt: string;
  hours: number;
  status: "pending" | "confirmed" | "expired" | "used";
}

const DONE: Record<Exclude<DealerRequest["status"], "pending">, string> = {
  confirmed: "This request was confirmed: Security Professional Access is on.",
  expired: "This link has expired. The dealer can send a new request.",
  used: "This link was already used.",
};

export async function dealerRequestScreen(ctx: ScreenContext): Promise<void> {
  const token = ctx.params.token!;
  const card = h("section", { class: "card narrow" }, h("h1", null, "Grant Security Professional Access"));
  replaceChildren(ctx.main, card);
  let r: DealerRequest;
  try {
    r = await get<DealerRequest>(`/dealer-requests/${enc(token)}`);
  } catch (e) {
    card.append(h("p", { class: "error", role: "alert" }, sentence(e)));
    return;
  }
  const fate = fateBox();
  card.append(h("p", null, `Your dealer asked for ${r.hours} hours of access to panel `, h("strong", null, r.panelId), ` at ${formatCreated(r.requestedAt)}.`));
  if (r.status !== "pending") {
    card.append(h("p", { class: "notice", "data-field": "request-status" }, DONE[r.status]));
    return;
  }
  const confirm = h("button", { type: "button", class: "button primary" }, "Confirm");
  confirm.addEventListener("click", () => {
    confirm.disabled = true;
    post<{ commands: string[] }>(`/dealer-requests/${enc(token)}/confirm`)
      .then(async (out) => {
        // Signed in, the page follows the command to the panel's answer; the Master who only has
        // the link is told it was sent, not that the panel applied it (that is not known here).
        if (signedIn()) await fate.follow(out.commands, `Security Professional Access for ${r.hours} hours`);
        else fate.note(`Confirmed: Security Professional Access for ${r.hours} hours has been sent to the panel. The panel's page shows it once the panel has applied it.`);
      })
      .catch((e) => {
        fate.fail(e);
        confirm.disabled = false;
      });
  });
  card.append(h("p", null, "The dealer must begin their work within 24 hours of access being granted. You can turn it off early from the panel's Security Professional access page."), fate.root, h("div", { class: "actions" }, confirm));
  confirm.focus();
}
