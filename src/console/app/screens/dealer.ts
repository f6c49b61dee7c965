/**
 * Security Professional access (002_*.txt): the Master's switch with its warning, 2 hours; a
 * dealer's request that the Master confirms through the emailed link (24 hours); turning it off
 * early; the time left while it is on.
 */
import { enc, get, post, sentence } from "../api.js";
import { h, replaceChildren, toggle } from "../dom.js";
import { fateBox } from "../fate.js";
import { formatCreated, formatRemaining } from "../format.js";
import { confirmDialog } from "../modal.js";
import { loadPanel, panelHubHeader } from "../panel.js";
import type { ScreenContext } from "../router.js";
import { can } from "../session.js";

export interface DealerState {
  open: boolean;
  until: string | null;
  hours: 2 | 24 | null;
  remainingMs: number | null;
  pendingRequest: { id: string; requestedAt: string } | null;
}

const POLL_MS = 3000;

/** What the screen shows of a state, without the time left (the ticker counts that down). */
const viewKey = (s: DealerState): string => JSON.stringify([s.open, s.until, s.hours, s.pendingRequest?.id ?? null]);

export async function dealerScreen(ctx: ScreenContext): Promise<void> {
  const panel = await loadPanel(ctx.params.id!);
  if (ctx.signal.aborted) return;
  const base = `/panels/${enc(panel.id)}/dealer`;
  const fate = fateBox();
  const host = h("div", { class: "dealer-host" });
  let ticker: ReturnType<typeof setInterval> | undefined;
  // The window also changes where this screen is not: the Master confirms an emailed request on
  // another device, the panel ends it, it runs out. Poll while shown; repaint only on a change
  // and never over a switch the person has moved but not saved.
  let shown: { key: string; dirty: () => boolean } | undefined;
  const poller = setInterval(() => void poll(), POLL_MS);
  ctx.signal.addEventListener("abort", () => {
    clearInterval(ticker);
    clearInterval(poller);
  });

  replaceChildren(
    ctx.main,
    h(
      "section",
      { class: "page" },
      panelHubHeader(panel, "dealer"),
      h("header", { class: "page-header" }, h("h1", null, "Security Professional Access")),
      h(
        "div",
        { class: "card explain" },
        h("p", null, "Normally your security dealer or monitoring station has read-only access. Security Professional Access grants the dealer one-time, nearly-full access for troubleshooting and adjustments. During this time, the dealer cannot:"),
        h("ul", null, h("li", null, "See live video from your cameras"), h("li", null, "View recorded video clips (Video Events)"), h("li", null, "Change your system's user codes")),
        h("p", null, "Only the Master User can grant it. Access lasts 2 hours when switched on here, or 24 hours when the Master confirms a dealer's emailed request. The Master can end it early."),
      ),
      fate.root,
      host,
    ),
  );

  const load = async () => {
    let state: DealerState;
    try {
      state = await get<DealerState>(base);
    } catch (e) {
      replaceChildren(host, h("p", { class: "error", role: "alert" }, sentence(e)));
      return;
    }
    if (!ctx.signal.aborted) paint(state);
  };

  async function poll(): Promise<void> {
    if (!shown || shown.dirty() || ctx.signal.aborted) return;
    let state: DealerState;
    try {
      state = await get<DealerState>(base);
    } catch {
      return; // a passing failure; the next poll tries again, a save reports its own
    }
    if (!ctx.signal.aborted && shown && !shown.dirty() && viewKey(state) !== shown.key) paint(state);
  }

  let touches = 0;
  async function settle(open: boolean, touchesAtSave: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    let state: DealerState | undefined;
    while (!ctx.signal.aborted && Date.now() < deadline) {
      try {
        state = await get<DealerState>(base);
      } catch (e) {
        fate.fail(e);
        return;
      }
      if (state.open === open) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    if (state && touches === touchesAtSave && !ctx.signal.aborted) paint(state);
  }

  function paint(state: DealerState): void {
    clearInterval(ticker);
    const manage = can("manage_panel_users");
    const sw = toggle("Security Professional Access", state.open, undefined, !manage);
    const save = h("button", { type: "button", class: "button primary", disabled: true }, "SAVE");
    // Moved and not saved, or being saved: the switch differs from the state painted.
    shown = { key: viewKey(state), dirty: () => sw.input.checked !== state.open };
    const left = h("p", { class: "time-left", "aria-live": "off", "data-field": "time-left" });
    const paintLeft = (ms: number) => (left.textContent = `Time left: ${formatRemaining(ms)}`);
    if (state.open && state.remainingMs !== null) {
      const endsAt = Date.now() + state.remainingMs;
      paintLeft(state.remainingMs);
      ticker = setInterval(() => {
        const ms = endsAt - Date.now();
        paintLeft(ms);
        if (ms <= 0) {
          clearInterval(ticker);
          void load();
        }
      }, 1000);
    }
    sw.input.addEventListener("change", () => {
      touches++;
      void (async () => {
        if (sw.input.checked && !state.open) {
          const ok = await confirmDialog({
            title: "Security Professional Access",
            message: [h("p", null, "Your dealer/monitoring station will have access to your account for 2 hours."), h("p", null, "The dealer must begin their work within 2 hours of access being granted.")],
            confirm: "OK",
          });
          if (!ok) sw.input.checked = false;
        }
        save.disabled = sw.input.checked === state.open;
      })();
    });
    save.addEventListener("click", () => {
      void (async () => {
        save.disabled = true;
        try {
          const out = sw.input.checked
            ? await post<{ commands: string[] }>(`${base}/grant`, { hours: 2 })
            : await post<{ commands: string[] }>(`${base}/revoke`);
          const wanted = sw.input.checked;
          const what = wanted ? "Security Professional Access for 2 hours" : "Security Professional Access turned off";
          const fates = await fate.follow(out.commands, what);
          // The panel reports its dealer window in its state, just after the ack: wait for it to
          // show what was asked, then repaint (unless the person has touched the switch since).
          if (fates.every((f) => f.status === "applied")) await settle(wanted, touches);
          else await load();
        } catch (e) {
          fate.fail(e);
          await load();
        }
      })();
    });
    const request = manage
      ? h("button", {
          type: "button",
          class: "button",
          onClick: () =>
            void post<{ id: string }>(`${base}/requests`)
              .then(() => {
                fate.note("Request sent: the Master User receives an email with a Grant Access link (24 hours).");
                void load();
              })
              .catch((e) => fate.fail(e)),
        }, "Request access (as the dealer)")
      : null;
    replaceChildren(
      host,
      h(
        "div",
        { class: "card dealer", "data-open": String(state.open) },
        h("div", { class: "switch-row" }, sw.root, manage ? save : null),
        h("p", { class: "dealer-status", "data-field": "dealer-status" }, state.open ? `Enabled for ${state.hours ?? "?"} hours${state.until ? `, until ${formatCreated(state.until)}` : ""}.` : "Off: the dealer has read-only access."),
        state.open ? left : null,
        state.pendingRequest
          ? h("p", { class: "notice", "data-field": "pending-request" }, `A dealer asked for access at ${formatCreated(state.pendingRequest.requestedAt)}. The Master User confirms it through the emailed link, for 24 hours.`)
          : null,
        request,
      ),
    );
  }
  await load();
}
