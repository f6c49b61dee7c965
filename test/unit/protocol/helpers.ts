import { Secret } from "../../../src/domain/index.js";
import { generateSealingKey, loadSealingKey, loadSigningKey, TrustedKeys, type OpenOptions, type WireCommandInput } from "../../../protocol/index.js";

export const PANEL = "panel-0001";
export const NOW = 1_700_000_000_000;
export const EXP = NOW + 60_000;
export const actor = { kind: "cloud" as const, id: "svc" };

// Fixed keys keep the suites fast (no key generation per test) and reproducible.
export const signer = loadSigningKey(Buffer.alloc(32, 7));
export const otherSigner = loadSigningKey(Buffer.alloc(32, 8));
export const agent = loadSealingKey(Buffer.alloc(32, 9));
export const otherAgent = generateSealingKey();
export const keys = { signingKey: signer, agentPublicKey: agent.publicRaw };
export const trusted = new TrustedKeys([signer.publicRaw]);

export function openOpts(over: Partial<OpenOptions> = {}): OpenOptions {
  return { panelId: PANEL, trustedKeys: trusted, agentPrivateKey: agent, now: NOW, ...over };
}

/** One valid command of every wire kind. */
export function everyKind(): WireCommandInput[] {
  const account = { id: "acc-1", email: "ada@example.com", createdAt: NOW - 1000, status: "Active" as const };
  return [
    { kind: "set_code", id: "k1", actor, slot: 2, code: new Secret("1234") },
    { kind: "set_label", id: "k2", actor, slot: 2, label: "Front door" },
    { kind: "set_partitions", id: "k3", actor, slot: 2, partitions: [1, 3] },
    { kind: "set_role", id: "k4", actor, slot: 2, role: "Supervisor", expectedVersion: 7 },
    { kind: "set_schedule", id: "k5", actor, slot: 2, schedule: { kind: "temporary", from: NOW, to: NOW + 86_400_000 } },
    { kind: "disable_user", id: "k6", actor: { kind: "master", id: "m", slot: 1 }, slot: 2 },
    { kind: "assign_account", id: "k7", actor, slot: 2, account },
    { kind: "unassign_account", id: "k8", actor, slot: 2 },
    { kind: "remove_account", id: "k9", actor, accountId: "acc-1" },
    { kind: "set_door_locks", id: "k10", actor, slot: 2, doorLocks: ["lock-a"] },
    { kind: "set_proximity_tags", id: "k11", actor, slot: 2, tags: [{ kind: "keypad", tag: new Secret("TAG-1") }, { kind: "doorlock", tag: new Secret("TAG-2") }] },
    {
      kind: "snapshot",
      id: "k12",
      actor,
      users: [
        { slot: 1, code: "keep", role: "Master" },
        { slot: 2, code: new Secret("9876"), label: "Bob", tags: [{ kind: "keypad", tag: new Secret("TAG-3") }], account },
        { slot: 3, code: new Secret("5555"), schedule: { kind: "always" } },
      ],
    },
    { kind: "grant_dealer_access", id: "k13", actor: { kind: "master", id: "owner" }, requestId: "req-1" },
    { kind: "revoke_dealer_access", id: "k14", actor: { kind: "master", id: "owner" } },
    { kind: "list_users", id: "k15", actor, page: 2, perPage: 50, onlyActive: true },
    { kind: "read_action_log", id: "k16", actor, page: 1, perPage: 15 },
  ];
}

/** Plain JSON of a command with secrets revealed, for comparing round trips. */
export function revealed(value: unknown): unknown {
  if (value instanceof Secret) return { secret: value.reveal() };
  if (Array.isArray(value)) return value.map(revealed);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealed(v)]));
  }
  return value;
}
