import type { Schedule } from "./store.js";
import type { ContactInput, FleetStore } from "./store.js";
import { FleetError } from "./errors.js";

/**
 * The person-wide settings of seed doc 000: one access period (At All Times / Restricted weekly /
 * Temporary) for every panel the person is on, and the SMS/email contacts.
 */

/**
 * Sets the person's access period and, in ONE transaction, the schedule at every panel they have
 * access at (switched on or off: an off panel takes it when switched on), with the commands.
 * Panels are locked in id order before the person, like every other change, so two changes never
 * wait on each other crosswise.
 */
export async function setAccessPeriod(store: FleetStore, personId: string, period: Schedule): Promise<{ commands: string[]; panels: string[] }> {
  if (period.kind === "temporary" && period.to <= period.from) throw new FleetError("invalid_schedule");
  return store.db.transaction(async (tx) => {
    const rows = await tx.query<{ panel_id: string; enabled: boolean }>("SELECT panel_id, enabled FROM person_panels WHERE person_id = $1 ORDER BY panel_id", [personId]);
    // Every panel locked in id order, then the person, and every panel's schedule and commands: a constant number of statements (access-many.ts).
    const results = await store.setAccessMany(tx, personId, rows.rows.map((r) => ({ panelId: r.panel_id, enabled: r.enabled === true, schedule: period })));
    const person = await tx.query("UPDATE people SET access_period = $2, updated_at = now() WHERE id = $1 RETURNING id", [personId, JSON.stringify(period)]);
    if (person.rows.length === 0) throw new FleetError("person_not_found", { personId });
    return { commands: results.flatMap((r) => r.commands), panels: rows.rows.map((r) => r.panel_id) };
  });
}

export async function accessPeriod(store: FleetStore, personId: string): Promise<Schedule> {
  const r = await store.db.query<{ access_period: Schedule }>("SELECT access_period FROM people WHERE id = $1", [personId]);
  return r.rows[0]?.access_period ?? { kind: "always" };
}

/** Replaces the person's contacts (a mobile number with country and carrier, emails; each on or off). */
export async function setContacts(store: FleetStore, personId: string, contacts: ContactInput[]): Promise<void> {
  await store.db.transaction(async (tx) => {
    const p = await tx.query("SELECT id FROM people WHERE id = $1 FOR UPDATE", [personId]);
    if (p.rows.length === 0) throw new FleetError("person_not_found", { personId });
    await tx.query("DELETE FROM contacts WHERE person_id = $1", [personId]);
    for (const c of contacts) {
      await tx.query("INSERT INTO contacts (person_id, kind, value, country, carrier, enabled) VALUES ($1, $2, $3, $4, $5, $6)", [personId, c.kind, c.value, c.country ?? null, c.carrier ?? null, c.enabled ?? true]);
    }
    await tx.query("UPDATE people SET updated_at = now() WHERE id = $1", [personId]);
  });
}
