import { z } from "zod";
import type { RouteDeps } from "./routes.js";
import * as R from "./responses.js";
import { parse, type HttpApi } from "./server.js";
import { setAccessBody, SETS_ACCOUNT_ANYWHERE } from "./schemas.js";
import { afterCommit } from "../unit-of-work.js";

/** The bulk body's byte limit: 5,000 panels with their usual settings fit (~200 bytes each), not a body of the largest schedules at each. */
export const BULK_MAX_BODY = 4 * 1024 * 1024;

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
 * set-based (`setAccessMany`, src/fleet/access-many.ts: a constant number of statements whatever
 * the number of panels): every panel's commands with their seqs, or nothing. A refusal at one panel
 * (its rule's code, its panel named in the detail) refuses the whole call. All its panels are
 * locked first, in id order, then the person, so two such calls over overlapping panels cannot deadlock.
 */
export function registerBulkRoutes(api: HttpApi, { store, dispatcher }: RouteDeps): void {
  api.route("PUT", "/api/v1/people/:personId/panels", { response: R.commandIds, access: "manage_panel_users", alsoNeeds: SETS_ACCOUNT_ANYWHERE, maxBodyBytes: BULK_MAX_BODY, tag: "People", summary: "Switch a person on or off at many panels in one transaction (all or nothing), each with its settings", body: bulkAccessBody }, async (req) => {
    const body = parse(bulkAccessBody, req.body);
    const results = await store.db.transaction((tx) => store.setAccessMany(tx, req.params.personId!, body.panels));
    const commands = results.flatMap((r) => r.commands);
    if (commands.length > 0) afterCommit(() => dispatcher.kick());
    return {
      body: { commands },
      audit: results.map(({ access: a }) => ({ panelId: a.panelId, slot: a.slot, personId: a.personId, action: a.enabled ? "set_access" : "switch_off" })),
    };
  });
}
