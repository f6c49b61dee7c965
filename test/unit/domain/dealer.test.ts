import { describe, expect, it } from "vitest";
import { applyCommand, DEALER_KEY, dealerWindow, PanelTable, Secret, type Command, type DomainEvent } from "../../../src/domain/index.js";
import { SteadyClock, type SteadyClockSources } from "../../../src/store/steady-clock.js";
import { testHash } from "../../helpers/hash.js";

const H = 3600_000;
const T0 = Date.UTC(2026, 10, 25, 8, 0, 0);
const master = { kind: "master" as const, id: "owner@example.com" };
const dealer = { kind: "dealer" as const, id: "dealer-42" };
const cloud = { kind: "cloud" as const, id: "svc" };

let n = 0;
function setup() {
  const t = new PanelTable({ panelId: "p", type: "DSC", codeLength: 4, timeZone: "Europe/Berlin", doorLocks: ["front"] });
  const run = (input: Record<string, unknown>, at: { now: number; steady: number }) => {
    const cmd = { id: `d${++n}`, actor: cloud, ...input } as Command;
    const out = applyCommand(t, cmd, { now: at.now, steady: at.steady, hash: testHash });
    if (out.ok) t.commit(out.changes);
    return out;
  };
  const t0 = { now: T0, steady: 1_000_000 };
  run({ kind: "set_code", slot: 1, code: new Secret("1111") }, t0);
  run({ kind: "set_code", slot: 2, code: new Secret("2222") }, t0);
  return { t, run, t0 };
}

const codeOf = (out: ReturnType<ReturnType<typeof setup>["run"]>) => (out.ok ? "ok" : out.error.code);
const eventTypes = (out: ReturnType<ReturnType<typeof setup>["run"]>): string[] => (out.ok ? out.events.map((e: DomainEvent) => e.type) : []);

describe("Security Professional access", () => {
  it("is read-only for the dealer until the Master grants it", () => {
    const { run, t0 } = setup();
    expect(codeOf(run({ kind: "set_label", slot: 2, label: "X", actor: dealer }, t0))).toBe("dealer_read_only");
  });

  it("can be granted only by the Master", () => {
    const { run, t0 } = setup();
    expect(codeOf(run({ kind: "grant_dealer_access" }, t0))).toBe("master_required");
    expect(codeOf(run({ kind: "grant_dealer_access", actor: dealer }, t0))).toBe("master_required");
    expect(codeOf(run({ kind: "grant_dealer_access", actor: { kind: "keypad_user", id: "kp1", slot: 2 } }, t0))).toBe("master_required");
    expect(codeOf(run({ kind: "grant_dealer_access", actor: { kind: "keypad_user", id: "kp1", slot: 1 } }, t0))).toBe("ok");
  });

  it("lasts 2 hours when granted directly and 24 hours when answering the dealer's request", () => {
    const { t, run, t0 } = setup();
    const direct = run({ kind: "grant_dealer_access", actor: master }, t0);
    expect(eventTypes(direct)).toEqual(["dealer_access_granted"]);
    expect(dealerWindow(t.meta(DEALER_KEY))).toMatchObject({ hours: 2, how: "direct", expiresAt: T0 + 2 * H });
    run({ kind: "grant_dealer_access", actor: master, requestId: "req-9" }, t0);
    expect(dealerWindow(t.meta(DEALER_KEY))).toMatchObject({ hours: 24, how: "request", requestId: "req-9" });
    expect(codeOf(run({ kind: "grant_dealer_access", actor: master, hours: 24 }, t0))).toBe("invalid_schedule");
  });

  it("lets the dealer change settings but never user codes", () => {
    const { t, run, t0 } = setup();
    run({ kind: "grant_dealer_access", actor: master }, t0);
    const first = run({ kind: "set_label", slot: 2, label: "Front desk", actor: dealer }, { now: T0 + 60_000, steady: t0.steady + 60_000 });
    expect(codeOf(first)).toBe("ok");
    expect(eventTypes(first)).toEqual(["dealer_session_started"]);
    expect(eventTypes(run({ kind: "set_partitions", slot: 2, partitions: [1], actor: dealer }, t0))).toEqual([]);
    for (const cmd of [
      { kind: "set_code", slot: 3, code: new Secret("3333") },
      { kind: "disable_user", slot: 2 },
      { kind: "set_proximity_tags", slot: 2, tags: [] },
      { kind: "snapshot", users: [] },
    ]) {
      expect(codeOf(run({ ...cmd, actor: dealer }, t0))).toBe("dealer_cannot_change_codes");
    }
    expect(codeOf(run({ kind: "grant_dealer_access", actor: dealer }, t0))).toBe("master_required");
    expect(t.slot(2).label).toBe("Front desk");
  });

  it("ends early when the Master revokes it", () => {
    const { run, t0 } = setup();
    run({ kind: "grant_dealer_access", actor: master }, t0);
    expect(eventTypes(run({ kind: "revoke_dealer_access", actor: master }, t0))).toEqual(["dealer_access_revoked"]);
    expect(codeOf(run({ kind: "set_label", slot: 2, label: "X", actor: dealer }, t0))).toBe("dealer_access_expired");
    expect(codeOf(run({ kind: "revoke_dealer_access", actor: master }, t0))).toBe("dealer_access_not_active");
  });

  it("expires on the steady clock at the moment of the command, whatever the wall clock says", () => {
    const { t, run, t0 } = setup();
    run({ kind: "grant_dealer_access", actor: master }, t0);
    // Wall clock jumps 24 h back, then 24 h forward: neither extends nor ends the 2 h window.
    expect(codeOf(run({ kind: "set_label", slot: 2, label: "A", actor: dealer }, { now: T0 - 24 * H, steady: t0.steady + H }))).toBe("ok");
    expect(codeOf(run({ kind: "set_label", slot: 2, label: "B", actor: dealer }, { now: T0 + 24 * H, steady: t0.steady + 2 * H - 1 }))).toBe("ok");
    expect(codeOf(run({ kind: "set_label", slot: 2, label: "C", actor: dealer }, { now: T0 + H, steady: t0.steady + 2 * H }))).toBe("dealer_access_expired");
    // Housekeeping turns the elapsed window into its event, once.
    expect(eventTypes(run({ kind: "expire_dealer_access", actor: { kind: "system", id: "housekeeping" } }, { now: T0, steady: t0.steady + 2 * H }))).toEqual(["dealer_access_expired"]);
    expect(dealerWindow(t.meta(DEALER_KEY))?.state).toBe("expired");
    expect(codeOf(run({ kind: "expire_dealer_access", actor: { kind: "system", id: "housekeeping" } }, { now: T0, steady: t0.steady + 3 * H }))).toBe("dealer_access_not_active");
  });

  it("logs every dealer attempt, allowed or refused, with the dealer as actor", () => {
    const { t, t0 } = setup();
    const grant = applyCommand(t, { id: "g", actor: master, kind: "grant_dealer_access" }, { now: T0, steady: t0.steady, hash: testHash });
    if (grant.ok) t.commit(grant.changes);
    const refused = applyCommand(t, { id: "r", actor: dealer, kind: "set_code", slot: 2, code: new Secret("9999") }, { now: T0, steady: t0.steady, hash: testHash });
    expect(refused.log).toEqual([expect.objectContaining({ actor: dealer, action: "set_code", result: "dealer_cannot_change_codes" })]);
    const allowed = applyCommand(t, { id: "a", actor: dealer, kind: "set_label", slot: 2, label: "Z" }, { now: T0, steady: t0.steady, hash: testHash });
    expect(allowed.log).toEqual([expect.objectContaining({ actor: dealer, action: "set_label", result: "ok" })]);
  });
});

describe("steady clock", () => {
  function sources(init: { uptime: number; boot: string; wall: number }) {
    const s = { ...init };
    const src: SteadyClockSources = { uptimeMs: () => s.uptime, bootId: () => s.boot, wallMs: () => s.wall };
    return { s, src };
  }

  it("ignores wall-clock jumps", () => {
    const { s, src } = sources({ uptime: 5000, boot: "b1", wall: T0 });
    const c = new SteadyClock(undefined, src);
    const start = c.now();
    s.wall -= 24 * H;
    s.uptime += 1000;
    expect(c.now() - start).toBe(1000);
    s.wall += 48 * H;
    s.uptime += 1000;
    expect(c.now() - start).toBe(2000);
  });

  it("continues across an agent restart in the same boot, counting the downtime", () => {
    const { s, src } = sources({ uptime: 5000, boot: "b1", wall: T0 });
    const a = new SteadyClock(undefined, src);
    const cp = a.checkpoint();
    s.uptime += 30 * 60_000; // the agent was down 30 min
    s.wall += 24 * H; // and the wall clock jumped meanwhile
    const b = new SteadyClock(cp, src);
    expect(b.now() - cp.steadyMs).toBe(30 * 60_000);
  });

  it("continues across a reboot from the last checkpoint plus wall time, never backwards", () => {
    const { s, src } = sources({ uptime: 5000, boot: "b1", wall: T0 });
    const a = new SteadyClock(undefined, src);
    s.uptime += 10_000;
    s.wall += 10_000;
    const cp = a.checkpoint();
    Object.assign(s, { uptime: 100, boot: "b2", wall: T0 + 10_000 + 60_000 });
    expect(new SteadyClock(cp, src).now()).toBe(cp.steadyMs + 60_000);
    Object.assign(s, { wall: T0 - 5 * H });
    expect(new SteadyClock(cp, src).now()).toBe(cp.steadyMs);
  });
});
