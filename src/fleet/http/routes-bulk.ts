import { z } from "zod";
import type { RouteDeps } from "./routes.js";
import * as R from "./responses.js";
import { parse, type HttpApi } from "./server.js";
import { setAccessBody } from "./schemas.js";

/** Seed doc 000's Device Access: one Save with a switch (and its settings) per security panel. */
export const bulkAccessBody = z.strictObject({
  panels: z
    .array(setAccessBody.extend({ panelId: z.string().min(1).max(64) }))
    .min(1)
    .max(5_000)
    .refine((list) => new Set(list.map((p) => p.panelId)).size === list.length, { message: "each panel once" }),
});

/**
 * `PUT /api/v1/people/:personId/panels`: the person's access at many panels in ONE transaction,
 * through the per-panel path (`setAccessIn`): every panel's commands with their seqs, or nothing. A
 * refusal at one panel (its rule's code) refuses the whole call. All its panels are locked first, in
 * id order, then the person, so two such calls over overlapping panels cannot deadlock.
 */
export function registerBulkRoutes(api: HttpApi, { store, dispatcher }: RouteDeps): void {
  api.route("PUT", "/api/v1/people/:personId/panels", { response: R.commandIds, access: "manage_panel_users", tag: "People", summary: "Switch a person on or off at many panels in one transaction (all or nothing), each with its settings", body: bulkAccessBody }, async (req) => {
    const body = parse(bulkAccessBody, req.body);
    const personId = req.params.personId!;
    const ordered = [...body.panels].sort((a, b) => (a.panelId < b.panelId ? -1 : a.panelId > b.panelId ? 1 : 0));
    const results = await store.db.transaction(async (tx) => {
      // Every panel of the call first, in id order, then the person (setAccessIn): the order every
      // writer takes them in. Locking panel 1, the person, then panels 2..N deadlocked against a
      // statement locking panels in id order while another call for the person waited.
      await tx.query("SELECT id FROM panels WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [ordered.map((p) => p.panelId)]);
      const out = [];
      for (const { panelId, ...input } of ordered) out.push(await store.setAccessIn(tx, personId, panelId, input));
      return out;
    });
    const commands = results.flatMap((r) => r.commands);
    if (commands.length > 0) dispatcher.kick();
    return {
      body: { commands },
      audit: results.map((r, i) => ({ panelId: r.access.panelId, slot: r.access.slot, personId: r.access.personId, action: ordered[i]!.enabled ? "set_access" : "switch_off" })),
    };
  });
}
