/**
 * Reconcile by snapshot: a panel whose database is made anew (a new epoch, lastSeq 0) gets its
 * whole desired table back in one snapshot, with the codes; a command that reached it across the
 * reset (refused `sequence_gap`) is superseded by the snapshot; the panel's events, numbered from 1
 * again in the new epoch, are all stored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type RunningFleet } from "../../src/fleet/app.js";
import { CodeVault } from "../../src/fleet/code-vault.js";
import type { Db } from "../../src/fleet/db.js";
import { CloudPeer } from "../helpers/agent-harness.js";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { DATABASES, logicalDump } from "./databases.js";
import { AgentFleet, captureLog, until } from "./fixture.js";
import { adminClient, ApiClient, TEST_ADMIN } from "./http-client.js";
import { leaks } from "./leaks.js";

type Fate = { id: string; status: string; seq: number; wireSeq: number | null; kind: string; error: { code: string } | null };

describe.each(DATABASES)("reconcile by snapshot (fleet on $name)", (database) => {
  const agents = new AgentFleet();
  const log = captureLog();
  let db: Db;
  let closeDb: () => Promise<void>;
  let fleet: RunningFleet;
  let api: ApiClient;

  beforeAll(async () => {
    await agents.start(["rec-1"]);
    ({ db, close: closeDb } = await database.open());
    fleet = await startFleet({ db, vault: new CodeVault(Buffer.alloc(32, 6)), brokerUrl: agents.broker.url, signingKey: agents.signingKey, logger: log.logger, port: 0, admin: TEST_ADMIN, workerId: "rec" });
    api = await adminClient(fleet.url);
    expect((await api.post("/api/v1/panels", { id: "rec-1" })).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
    await closeDb?.();
    await agents.stop();
  });

  const settled = (panel: string, n: number) =>
    until(async () => {
      const all = (await api.get<{ commands: Fate[] }>(`/api/v1/panels/${panel}/commands`)).body.commands;
      return all.length >= n && all.every((c) => c.status !== "pending") && all;
    }, 20_000);

  async function keypad(code: string): Promise<string | undefined> {
    const c = await KeypadTestClient.connect(agents.agent("rec-1").config.keypadSocket);
    try {
      await c.hello("kp-rec", [1]);
      c.send({ t: "entry", action: "arm_away", code });
      return lastDisplay(await c.sync())?.line2 as string | undefined;
    } finally {
      c.close();
    }
  }

  it("gives a reset panel its table back in one snapshot and supersedes what was refused across the reset", async () => {
    const people = await Promise.all(["Alan Turing", "Joan Clarke"].map(async (n) => {
      const [firstName, lastName] = n.split(" ");
      return (await api.post<{ id: string }>("/api/v1/people", { firstName, lastName })).body.id;
    }));
    const codes: string[] = [];
    for (const id of people) {
      codes.push((await api.put<{ code: string }>(`/api/v1/people/${id}/code`, { generate: true })).body.code);
      await api.put(`/api/v1/people/${id}/panels/rec-1`, { enabled: true });
    }
    await settled("rec-1", 10);
    expect(await keypad(codes[0]!)).toBe("Access granted — Alan Turing");
    // more events in the old database than the new one will have made when it is checked below
    for (let i = 0; i < 4; i++) expect(await keypad(codes[1]!)).toBe("Access granted — Joan Clarke");
    const epoch = (await api.get<{ reported: { epoch: string } }>("/api/v1/panels/rec-1")).body.reported.epoch;
    expect(epoch).toMatch(/^[0-9a-f]{16}$/);

    // The panel loses its database; while it is down, one more change is made.
    let acrossReset = "";
    await agents.restart("rec-1", {
      wipeTable: true,
      whileDown: async () => {
        const r = await api.put<{ commands: string[] }>(`/api/v1/people/${people[1]}/panels/rec-1`, { enabled: true, partitions: [1, 3] });
        acrossReset = r.body.commands[0]!;
      },
    });
    const journal = await until(async () => {
      const all = (await api.get<{ commands: Fate[] }>("/api/v1/panels/rec-1/commands")).body.commands;
      const snap = all.find((c) => c.kind === "snapshot");
      return snap && all.every((c) => c.status !== "pending") && all;
    }, 20_000);
    const snapshots = journal.filter((c) => c.kind === "snapshot");
    expect(snapshots.map((c) => [c.status, c.wireSeq === c.seq])).toEqual([["applied", true]]);
    const moved = journal.find((c) => c.id === acrossReset)!;
    expect(moved.seq).toBeLessThan(snapshots[0]!.seq);
    // it reached the reset panel before the snapshot: refused for the gap, then superseded by the snapshot
    expect(moved).toMatchObject({ status: "superseded", error: { code: "sequence_gap" }, wireSeq: moved.seq });
    expect(await keypad(codes[0]!)).toBe("Access granted — Alan Turing");
    expect(await keypad(codes[1]!)).toBe("Access granted — Joan Clarke");
    const reported = await until(async () => {
      const r = (await api.get<{ reported: { epoch: string; lastSeq: number } }>("/api/v1/panels/rec-1")).body.reported;
      return r.epoch !== epoch && r.lastSeq === snapshots[0]!.seq && r;
    });
    expect(reported.epoch).toMatch(/^[0-9a-f]{16}$/);

    // Its events number from 1 again in the new epoch: stored, not taken for the old database's
    // (the fleet had kept (panel, n) and the cloud client the highest n: the first ones were lost).
    type Ev = { epoch: string | null; n: number; type: string; slot: number | null };
    const events = await until(async () => {
      const rows = (await api.get<{ rows: Ev[] }>("/api/v1/events?panelId=rec-1&perPage=50")).body.rows;
      return rows.filter((e) => e.epoch === reported.epoch && e.type === "access").length >= 2 && rows;
    }, 20_000);
    const fresh = events.filter((e) => e.epoch === reported.epoch);
    const oldMax = Math.max(...events.filter((e) => e.epoch === epoch).map((e) => e.n));
    expect(oldMax).toBeGreaterThanOrEqual(5);
    // the new database's access events carry numbers the old one had used
    expect(fresh.filter((e) => e.type === "access" && e.n <= oldMax).length).toBeGreaterThanOrEqual(2);
    // n = 1 of the new epoch is its start-up resync request (answered, not stored); the rest follow without a gap
    expect(fresh.map((e) => e.n).sort((a, b) => a - b)).toEqual(Array.from({ length: fresh.length }, (_, i) => i + 2));

    // the stream goes on after the snapshot at the journal's seqs
    const after = await api.put<{ commands: string[] }>(`/api/v1/people/${people[0]}/panels/rec-1`, { enabled: true, partitions: [2] });
    const fate = await until(async () => {
      const f = (await api.get<Fate>(`/api/v1/commands/${after.body.commands[0]}`)).body;
      return f.status !== "pending" && f;
    });
    expect(fate).toMatchObject({ status: "applied", seq: snapshots[0]!.seq + 1, wireSeq: snapshots[0]!.seq + 1 });
    // one snapshot for the reset, though its gap's resync request and its new epoch were heard apart
    const all = (await api.get<{ commands: Fate[] }>("/api/v1/panels/rec-1/commands")).body.commands;
    expect(all.filter((c) => c.kind === "snapshot")).toHaveLength(1);
    expect(log.lines.filter((l) => l.includes("seq_mismatch"))).toEqual([]);
    expect(leaks(await logicalDump(db), codes)).toEqual([]);
    expect(leaks(log.lines.join("\n"), codes)).toEqual([]);
  });

  it("answers a resync request for a sequence gap in the same database with one snapshot, and converges", async () => {
    const before = (await api.get<{ reported: { epoch: string; lastSeq: number } }>("/api/v1/panels/rec-1")).body.reported;
    const snapshots = async () => (await api.get<{ commands: Fate[] }>("/api/v1/panels/rec-1/commands")).body.commands.filter((c) => c.kind === "snapshot");
    const had = (await snapshots()).length;
    // Another sender with the fleet's key skips ahead: the panel refuses the gap and asks for a resync.
    const peer = await new CloudPeer(agents.broker.url, "rec-1", agents.signingKey).connect();
    try {
      const command = { id: `gap-${Date.now()}`, actor: { kind: "cloud" as const, id: "another-sender" }, kind: "set_label", slot: 2, label: "Gap" } as never;
      await peer.send({ seq: before.lastSeq + 5, expiresAt: Date.now() + 60_000, command });
      await until(async () => peer.events.some((e) => e.type === "resync_request" && e.data.reason === "sequence_gap"), 20_000);
    } finally {
      await peer.client.endAsync();
    }
    const answered = await until(async () => {
      const list = await snapshots();
      return list.length === had + 1 && list.at(-1)!.status === "applied" && list.at(-1)!;
    }, 20_000);
    expect(answered.wireSeq).toBe(answered.seq);
    expect(log.lines.some((l) => l.includes('"why":"resync_request:sequence_gap"') && l.includes(answered.id))).toBe(true);
    await until(async () => (await api.get<{ converged: boolean }>("/api/v1/panels/rec-1")).body.converged, 20_000);
    const after = (await api.get<{ reported: { epoch: string; lastSeq: number } }>("/api/v1/panels/rec-1")).body.reported;
    expect(after).toMatchObject({ epoch: before.epoch, lastSeq: answered.seq });
    expect(await snapshots()).toHaveLength(had + 1);
  });
});
