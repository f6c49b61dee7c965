/**
 * The retained state follows every change, whatever its source, and agrees with what the agent
 * decides (issue 12, item 3: each case below was seen stale for seconds, or wrong).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { WireCommandInput } from "../../protocol/index.js";
import { Agent } from "../../src/agent.js";
import { Secret } from "../../src/domain/index.js";
import { startEmbeddedBroker } from "../../src/sync/embedded-broker.js";
import { agentConfig, CloudPeer, silentLogger } from "../helpers/agent-harness.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

const cloud = { kind: "cloud" as const, id: "ops" };
let n = 0;
const cmd = (input: Record<string, unknown>): WireCommandInput => ({ id: `s-${++n}`, actor: cloud, ...input }) as WireCommandInput;
const HOUR = 3600_000;
const keypad = { keypadId: "kp-1", partitions: [1] };

async function setup() {
  const b = await startEmbeddedBroker();
  cleanups.push(() => b.close());
  const peer = await new CloudPeer(b.url, "panel-1").connect();
  cleanups.push(() => peer.close());
  const config = agentConfig(dirs.make(), b.url, peer.signingKey);
  const start = async (now?: () => number) => {
    const agent = new Agent(config, { logger: silentLogger, ...(now ? { now } : {}) });
    await agent.start();
    return agent;
  };
  let agent = await start();
  cleanups.push(() => agent.stop());
  await peer.until(() => peer.state);
  return {
    peer,
    get agent() {
      return agent;
    },
    async restart(now?: () => number) {
      await agent.stop();
      peer.state = undefined;
      agent = await start(now);
    },
  };
}

describe("retained state", () => {
  it("shows a seq consumed by a command refused before the rules within a second (was: lastSeq stale until an unrelated command)", async () => {
    const s = await setup();
    await s.peer.send({ seq: 1, expiresAt: Date.now() + 60_000, command: cmd({ kind: "set_label", slot: 1, label: "Owner" }) });
    await s.peer.until(() => s.peer.state?.lastSeq === 1);
    const expired = cmd({ kind: "set_label", slot: 1, label: "Late" });
    await s.peer.send({ seq: 2, expiresAt: Date.now() - 1, command: expired });
    expect(await s.peer.until(() => s.peer.outcome(expired.id))).toMatchObject({ ok: false, error: { code: "command_expired" } });
    const t0 = Date.now();
    await s.peer.until(() => s.peer.state?.lastSeq === 2, 1_000);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it("shows a dealer window granted at the keypad (*6) within a second, and its end when it is revoked there", async () => {
    const s = await setup();
    await s.peer.send({ seq: 1, expiresAt: Date.now() + 60_000, command: cmd({ kind: "set_code", slot: 1, code: new Secret("1397") }) });
    await s.peer.until(() => s.peer.state?.users === 1);
    expect(s.peer.state!.dealerAccess).toBeNull();
    expect(await s.agent.core!.dealer(keypad, new Secret("1397"), "grant")).toEqual({ ok: true });
    const granted = await s.peer.until(() => s.peer.state?.dealerAccess ?? undefined, 1_000);
    expect(granted.hours).toBe(2);
    expect(Math.abs(granted.until - (Date.now() + 2 * HOUR))).toBeLessThan(5_000);
    expect(await s.agent.core!.dealer(keypad, new Secret("1397"), "revoke")).toEqual({ ok: true });
    await s.peer.until(() => s.peer.state?.dealerAccess === null, 1_000);
  });

  it("tells the cloud the window's end in the agent's own time after a restart with the wall clock moved +25 h (steady clock: still open)", async () => {
    const s = await setup();
    await s.peer.send({ seq: 1, expiresAt: Date.now() + 60_000, command: cmd({ kind: "set_code", slot: 1, code: new Secret("1397") }) });
    await s.peer.until(() => s.peer.state?.users === 1);
    expect(await s.agent.core!.dealer(keypad, new Secret("1397"), "grant")).toEqual({ ok: true });
    await s.peer.until(() => s.peer.state?.dealerAccess ?? undefined);
    const shift = 25 * HOUR;
    await s.restart(() => Date.now() + shift);
    const state = await s.peer.until(() => s.peer.state);
    // The agent still accepts the dealer (no time elapsed on the steady clock) ...
    const dealerWrite = { id: "d-1", actor: { kind: "dealer" as const, id: "installer-7" }, kind: "set_label", slot: 1, label: "Front desk" } as WireCommandInput;
    await s.peer.send({ seq: 2, expiresAt: Date.now() + shift + 60_000, command: dealerWrite });
    expect(await s.peer.until(() => s.peer.outcome("d-1"))).toMatchObject({ ok: true });
    // ... and the state agrees: open, ending ~2 h after the agent's (shifted) now.
    expect(state.dealerAccess).not.toBeNull();
    expect(state.dealerAccess!.until).toBeGreaterThan(state.at);
    expect(Math.abs(state.dealerAccess!.until - (state.at + 2 * HOUR))).toBeLessThan(10_000);
  });
});
