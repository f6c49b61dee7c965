import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import type { SigningKey } from "../../protocol/index.js";
import { Secret, type Role } from "../domain/index.js";
import { startFleet, type RunningFleet } from "./app.js";
import { CodeVault } from "./code-vault.js";
import { pgliteDb, type Db } from "./db.js";
import { enrolPanel } from "./enrol.js";
import { fleetLogger } from "./log.js";
import type { Schedule } from "./store.js";

/**
 * panel-fleet for `npm start`: PGlite under `<demo dir>/fleet`, the demo panel enrolled, a demo
 * admin (its password made once and kept in `<dir>/fleet/admin-password`, mode 0600), and the
 * demo users seeded THROUGH the fleet (people with their codes, switched on at the panel), so the
 * fleet's desired table is the panel's table and a reconcile never loses them.
 */
export interface DemoUser {
  slot: number;
  label: string;
  role: Role;
  partitions?: number[];
  schedule?: Schedule;
  code: string;
}

export interface DemoFleet {
  fleet: RunningFleet;
  db: Db;
  admin: { email: string; password: string };
  /** The fleet has people already (seeded on an earlier start). */
  hasPeople: boolean;
  /** The demo panel is enrolled in the fleet. */
  enrolled: boolean;
  stop(): Promise<void>;
}

export const DEMO_ADMIN_EMAIL = "admin@demo.local";

function adminPassword(dir: string): string {
  const path = join(dir, "admin-password");
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const password = randomBytes(12).toString("base64url");
  writeFileSync(path, `${password}\n`, { mode: 0o600 });
  return password;
}

export async function startDemoFleet(o: { dir: string; brokerUrl: string; signingKey: SigningKey; panelId: string; port: number; logFile: string; doorLocks: string[]; partitions: number; enrol: boolean }): Promise<DemoFleet> {
  const dir = join(o.dir, "fleet");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const admin = { email: DEMO_ADMIN_EMAIL, password: adminPassword(dir) };
  const db = await pgliteDb(join(dir, "pgdata"));
  const logger = fleetLogger({ destination: pino.destination({ dest: o.logFile, sync: false, append: true, mkdir: true }) });
  const common = { db, vault: CodeVault.fromFile(join(dir, "code.key")), brokerUrl: o.brokerUrl, signingKey: o.signingKey, logger, admin, workerId: "demo" };
  let fleet: RunningFleet;
  try {
    fleet = await startFleet({ ...common, port: o.port });
  } catch {
    fleet = await startFleet({ ...common, port: 0 });
  }
  if (o.enrol && !(await fleet.store.panel(o.panelId))) await enrolPanel(fleet.store, fleet.client, { id: o.panelId, doorLocks: o.doorLocks, partitions: o.partitions }, 10_000);
  const people = await db.query("SELECT 1 FROM people LIMIT 1");
  return {
    fleet,
    db,
    admin,
    hasPeople: people.rows.length > 0,
    enrolled: (await fleet.store.panel(o.panelId)) !== undefined,
    async stop() {
      await fleet.stop();
      await db.close();
    },
  };
}

/** Creates the demo users as people, sets their codes and switches them on at the panel; resolves when the panel applied every command. */
export async function seedThroughFleet(demo: DemoFleet, panelId: string, users: DemoUser[], timeoutMs = 30_000): Promise<void> {
  const { store, dispatcher } = demo.fleet;
  const commands: string[] = [];
  for (const u of users) {
    const p = await store.createPerson({ firstName: u.label, lastName: "Demo" });
    await store.setCode(p.id, new Secret(u.code));
    const out = await store.setAccess(p.id, panelId, { enabled: true, slot: u.slot, role: u.role, label: u.label, ...(u.partitions ? { partitions: u.partitions } : {}), ...(u.schedule ? { schedule: u.schedule } : {}) });
    commands.push(...out.commands);
  }
  dispatcher.kick();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fates = await store.commands(commands);
    const rejected = fates.find((f) => f.status === "rejected");
    if (rejected) throw new Error(`demo seed: ${rejected.kind} refused (${rejected.error?.code ?? "?"})`);
    if (fates.every((f) => f.status === "applied")) return;
    if (Date.now() > deadline) throw new Error("demo seed: the panel did not apply the fleet's commands in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}
