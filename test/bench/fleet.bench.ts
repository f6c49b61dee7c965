/**
 * panel-fleet at scale, on the process users run (two `panel-fleet` worker binaries on a PostgreSQL
 * 15 server) against FLEET_BENCH_PANELS (default 1,000) real agents in four agent-host processes
 * (own SQLite, keys, MQTT session and keypad socket each) through mosquitto.
 *
 *   fleet_fanout_1000_ms   ONE API call (PUT /people/:id/panels, 000's Device Access) switching a
 *                          person on at every panel, until the last panel's command is applied
 *                          (its ack recorded in the journal); target <= 5,000
 *   fleet_fanout_floor_ms  the same call for ONE panel, in the same run: the floor
 *   fleet_fanout_keypad_granted  panels whose keypad socket granted the person's code afterwards
 *                          (all of them is the pass)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSigningKey, rawPrivateKey } from "../../protocol/index.js";
import { postgresDb } from "../../src/fleet/db.js";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { PostgresServer } from "../helpers/postgres.js";
import { tempDirs } from "../helpers/tmp.js";
import { waitFor } from "../helpers/wait.js";
import { startHost, startWorker, stopHost, stopWorker, type AgentHost, type FleetRigContext, type Worker } from "../scale/fleet-rig.js";

const PANELS = Number(process.env.FLEET_BENCH_PANELS ?? 1000);
const HOSTS = 4;

export async function run(): Promise<Record<string, number>> {
  const log = (line: string) => process.stderr.write(`fleet bench: ${line}\n`);
  const dirs = tempDirs();
  const dir = dirs.make("fleet-bench-");
  const signing = generateSigningKey();
  const signingKeyFile = join(dir, "signing.key");
  writeFileSync(signingKeyFile, rawPrivateKey(signing.privateKey).toString("hex"), { mode: 0o600 });
  // Each worker is one client receiving every panel's retained state when it subscribes.
  const broker = new Mosquitto({ maxQueuedMessages: PANELS * 8 + 1000 });
  let server: PostgresServer | undefined;
  const hosts: AgentHost[] = [];
  const workers: Worker[] = [];
  try {
    await broker.start();
    server = await PostgresServer.start();
    const db = postgresDb(server.url);
    const ctx: FleetRigContext = { dir, brokerUrl: broker.url, signing, signingKeyFile, codeKeyFile: join(dir, "code.key"), databaseUrl: server.url, progress: log };
    const panelIds = Array.from({ length: PANELS }, (_, i) => `bench-${String(i + 1).padStart(4, "0")}`);
    const per = Math.ceil(PANELS / HOSTS);
    const started = Date.now();
    hosts.push(...(await Promise.all(Array.from({ length: HOSTS }, (_, h) => startHost(ctx, `host${h}`, panelIds.slice(h * per, (h + 1) * per), 20)))));
    log(`${PANELS} agents up in ${Date.now() - started} ms`);
    workers.push(await startWorker(ctx, "w-a"), await startWorker(ctx, "w-b"));
    const api = workers[0]!.api;
    let enrolled = 0;
    const queue = [...panelIds];
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const panel = id;
        await waitFor(async () => {
          const r = await workers[enrolled % 2]!.api.post("/api/v1/panels", { id: panel });
          if (r.status !== 201 && r.status !== 503) throw new Error(`enrol ${panel}: ${r.status} ${JSON.stringify(r.body)}`);
          return r.status === 201;
        }, 60_000, `panel ${panel} to enrol`, 250);
        enrolled++;
      }
    }));
    log(`${enrolled} panels enrolled`);

    const person = async (name: string, code: string) => {
      const p = await api.post<{ id: string }>("/api/v1/people", { firstName: name, lastName: "Bench" });
      const c = await api.put(`/api/v1/people/${p.body.id}/code`, { code });
      if (c.status !== 200) throw new Error(`code: ${c.status} ${JSON.stringify(c.body)}`);
      return p.body.id;
    };
    const fanout = async (personId: string, panels: string[]): Promise<number> => {
      const t0 = performance.now();
      const r = await api.put<{ commands: string[] }>(`/api/v1/people/${personId}/panels`, { panels: panels.map((panelId) => ({ panelId, enabled: true })) });
      if (r.status !== 200) throw new Error(`fanout: ${r.status} ${JSON.stringify(r.body)}`);
      const ids = r.body.commands;
      await waitFor(async () => {
        const q = await db.query<{ n: unknown }>("SELECT count(*) AS n FROM commands WHERE id = ANY($1) AND status = 'applied'", [ids]);
        return Number(q.rows[0]!.n) === ids.length;
      }, 300_000, `${ids.length} commands to be applied`, 20);
      return performance.now() - t0;
    };

    const floor = await fanout(await person("Floor", "2580"), [panelIds[0]!]);
    log(`floor (one panel): ${Math.round(floor)} ms`);
    const ms = await fanout(await person("Fanout", "7315"), panelIds);
    log(`fanout to ${PANELS} panels: ${Math.round(ms)} ms`);

    let granted = 0;
    const checks = [...panelIds];
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let id = checks.shift(); id !== undefined; id = checks.shift()) {
        const kp = await KeypadTestClient.connect(join(dir, "agents", id, "keypad.sock"));
        try {
          await kp.hello("kp-bench", [1]);
          kp.send({ t: "entry", action: "arm_away", code: "7315" });
          const line = lastDisplay(await kp.sync())?.line2;
          if (typeof line === "string" && line.startsWith("Access granted")) granted++;
        } finally {
          kp.close();
        }
      }
    }));
    log(`keypad: ${granted}/${PANELS} granted`);
    await db.close();
    return { [`fleet_fanout_${PANELS}_ms`]: Math.round(ms), fleet_fanout_floor_ms: Math.round(floor), fleet_fanout_keypad_granted: granted };
  } finally {
    for (const w of workers) await stopWorker(w).catch(() => {});
    for (const h of hosts) await stopHost(h).catch(() => {});
    await server?.stop().catch(() => {});
    await broker.dispose().catch(() => {});
    dirs.cleanup();
  }
}
