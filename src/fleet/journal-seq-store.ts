import type { SeqStore } from "../cloud/index.js";
import type { FleetStore } from "./store.js";

/**
 * The cloud client's SeqStore backed by the journal. The fleet allocates each command's seq in the
 * transaction that writes it; the client numbers what it is handed from the last seq it loads. So
 * `load` answers "the seq just before the first command not yet acked", and the dispatcher hands
 * commands over in seq order with nothing else in between: the client's numbers then ARE the
 * journal's. `save` has nothing to keep (the journal already holds every seq). The dispatcher
 * checks every ack's seq against the journal's and logs `seq_mismatch` if they ever differ (see
 * the README: the client has no way to send at an explicit seq yet).
 */
export function journalSeqStore(store: FleetStore): SeqStore {
  // The client asks per panel; a fan-out to many panels asks for all of them in one turn: one query.
  const firstPending = batched(async (ids: string[]) => {
    const r = await store.db.query<{ id: string; first: unknown; next_seq: unknown }>(
      "SELECT p.id, (SELECT min(c.seq) FROM commands c WHERE c.panel_id = p.id AND c.status = 'pending') AS first, p.next_seq FROM panels p WHERE p.id = ANY($1::text[])",
      [ids],
    );
    return new Map(r.rows.map((x) => [x.id, x.first !== null && x.first !== undefined ? Number(x.first) - 1 : Number(x.next_seq) - 1]));
  });
  const identities = batched(async (ids: string[]) => {
    const r = await store.db.query<{ id: string; k: string | null }>("SELECT id, encode(identity_key, 'hex') AS k FROM panels WHERE id = ANY($1::text[])", [ids]);
    return new Map(r.rows.map((x) => [x.id, x.k ?? undefined]));
  });
  return {
    load: (panelId) => firstPending(panelId),
    save() {},
    // The identity pinned at enrolment (panels.identity_key) is the one the client verifies against.
    loadIdentity: (panelId) => identities(panelId),
    // A panel enrolled before it published an identity key gets it pinned on first sight; a pinned key is never replaced.
    async saveIdentity(panelId, hex) {
      if (hex) await store.db.query("UPDATE panels SET identity_key = decode($2, 'hex') WHERE id = $1 AND identity_key IS NULL", [panelId, hex]);
    },
  };
}

/** Keys asked for in one event-loop turn are looked up together: `fetch` gets them all at once. */
function batched<V>(fetch: (keys: string[]) => Promise<Map<string, V | undefined>>): (key: string) => Promise<V | undefined> {
  type Waiter = { resolve: (v: V | undefined) => void; reject: (e: unknown) => void };
  let waiting: Map<string, Waiter[]> | undefined;
  return (key) =>
    new Promise<V | undefined>((resolve, reject) => {
      if (!waiting) {
        const mine = new Map<string, Waiter[]>();
        waiting = mine;
        setImmediate(() => {
          waiting = undefined;
          fetch([...mine.keys()]).then(
            (found) => {
              for (const [k, list] of mine) for (const w of list) w.resolve(found.get(k));
            },
            (err: unknown) => {
              for (const list of mine.values()) for (const w of list) w.reject(err);
            },
          );
        });
      }
      const list = waiting.get(key) ?? [];
      list.push({ resolve, reject });
      waiting.set(key, list);
    });
}
