/**
 * panel-fleet at scale, on the process users run (two `panel-fleet` worker binaries from dist/, built first, on a PostgreSQL
 * 15 server) against FLEET_BENCH_PANELS (default 1,000) real agents in four agent-host processes
 * (own SQLite, keys, MQTT session and keypad socket each) through mosquitto.
 *
 *   fleet_fanout_1000_ms   ONE API call (PUT /people/:id/panels, 000's Device Access) switching a
 *                          person on at every panel, until the last panel's command is applied
 *                          (its ack recorded in the journal); target <= 5,000
 *   fleet_fanout_floor_ms  the same call for ONE panel, in the same run: the floor
 *   fleet_fanout_keypad_granted  panels whose keypad socket granted the person's code afterwards
 *                          (all of them is the pass)
 *   fleet_cmds_per_s       sustained: FLEET_BENCH_WRITERS (default 8) API clients, each with its own
 *                          person switched on at its own share of the panels, each making
 *                          FLEET_BENCH_CMD_ROUNDS (default 10) bulk calls one after the other that
 *                          change its person's label at each of its panels (one command per panel),
 *                          alternating between the two workers;
 *                          commands applied per second from the first call until the last command's
 *                          ack is recorded; target >= 5,000
 *   fleet_cmds_floor_per_s the same calls for ONE panel, in the same run: the floor
 *   fleet_reconcile_1000_ms every panel's agent reset at once (stopped, its database deleted, started:
 *                          a new epoch, an empty table) until every panel reports the new epoch and
 *                          the digest of its desired table; measured, no target
 *   fleet_reconcile_floor_ms the same for ONE panel, in the same run
 *   fleet_reconcile_keypad_granted  panels whose keypad granted the person's code after the reset
 */
import { execFile } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { generateSigningKey, rawPrivateKey } from "../../protocol/index.js";
import { postgresDb } from "../../src/fleet/db.js";
import { desiredDigests } from "../../src/fleet/digest.js";
import { panelFromRow } from "../../src/fleet/panel-row.js";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { PG_BIN, PostgresServer } from "../helpers/postgres.js";
import { tempDirs } from "../helpers/tmp.js";
import { waitFor } from "../helpers/wait.js";
import { buildDist, resetAgents, startHost, startWorker, stopHost, stopWorker, type AgentHost, type FleetRigContext, type Worker } from "../scale/fleet-rig.js";

const PANELS = Number(process.env.FLEET_BENCH_PANELS ?? 1000);
const HOSTS = 4;
const CMD_ROUNDS = Number(process.env.FLEET_BENCH_CMD_ROUNDS ?? 10);
const WRITERS = Number(process.env.FLEET_BENCH_WRITERS ?? 8);
/** FLEET_BENCH_PROFILE=1: where the fan-out's time goes (CPU per process, statements by calls). Not for the figures. */
const PROFILE = process.env.FLEET_BENCH_PROFILE === "1";
const exec = promisify(execFile);

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** Every process whose command line starts with `program` (postgres: the postmaster and its backends). */
function pidsOf(program: string): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!;
      return argv0 === program || argv0.endsWith(`/${program}`) || argv0.startsWith(`${program}:`);
    } catch {
      return false;
    }
  });
}

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
    if (PROFILE) {
      const admin = postgresDb(server.url, { max: 1 });
      await admin.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
      await admin.close();
      const args = ["-D", server.dataDir, "restart", "-m", "fast", "-w", "-t", "30", "-l", join(server.dir, "server.log")];
      if (process.getuid?.() === 0) await exec("runuser", ["-u", "postgres", "--", join(PG_BIN, "pg_ctl"), ...args]);
      else await exec(join(PG_BIN, "pg_ctl"), args);
    }
    const db = postgresDb(server.url);
    const ctx: FleetRigContext = { dir, brokerUrl: broker.url, signing, signingKeyFile, codeKeyFile: join(dir, "code.key"), databaseUrl: server.url, progress: log, built: true, eventShareGroup: "bench" };
    buildDist(log);
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

    // Until every command is applied. The poll is the bench's, not the fleet's, and the same PostgreSQL
    // serves both: it asks whether any command at all is still pending (the partial index
    // commands_pending, a few µs; nothing else is in flight during these phases, so none pending means
    // these settled), then one count says they applied. Counting the ids' applied rows at every poll
    // (each panel's last command, 1,000 ids every 50 ms) had cost ~1 s of PostgreSQL CPU in the
    // sustained phase, CPU the fleet's own work then lacked.
    const allApplied = async (ids: string[], timeoutMs: number, pollMs: number): Promise<void> => {
      const settled = async () => (await db.query("SELECT 1 FROM commands WHERE status = 'pending' LIMIT 1")).rows.length === 0;
      const applied = async () => Number((await db.query<{ n: unknown }>("SELECT count(*) AS n FROM commands WHERE id = ANY($1) AND status = 'applied'", [ids])).rows[0]!.n) === ids.length;
      try {
        await waitFor(settled, timeoutMs, `${ids.length} commands to be applied`, pollMs);
        if (!(await applied())) throw new Error(`${ids.length} commands settled, not all of them applied`);
      } catch (err) {
        // what is stuck, for the report: the unapplied commands' panels, their leases and the workers' last warnings
        const stuck = await db.query("SELECT c.panel_id, c.status, count(*) AS n, min(c.seq) AS first, p.lease_owner, p.lease_until > now() AS leased, p.last_seq, p.next_seq FROM commands c JOIN panels p ON p.id = c.panel_id WHERE c.id = ANY($1) AND c.status <> 'applied' GROUP BY c.panel_id, c.status, p.lease_owner, p.lease_until, p.last_seq, p.next_seq ORDER BY c.panel_id LIMIT 20", [ids]);
        throw new Error(`${(err as Error).message}; not applied: ${JSON.stringify(stuck.rows)}; the workers' last warnings: ${workers.map((w) => `${w.id}: ${w.warnings.slice(-4).join(" | ")}`).join("; ")}`);
      }
    };
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
      if (PROFILE) log(`PUT answered after ${Math.round(performance.now() - t0)} ms (${r.body.commands.length} commands)`);
      await allApplied(r.body.commands, 300_000, 20);
      return performance.now() - t0;
    };

    const floorPerson = await person("Floor", "2580");
    const floor = await fanout(floorPerson, [panelIds[0]!]);
    log(`floor (one panel): ${Math.round(floor)} ms`);
    const fanoutPerson = await person("Fanout", "7315");
    const cpu = () => ({
      workers: workers.reduce((t, w) => t + cpuOf(w.child.pid!), 0),
      hosts: hosts.reduce((t, h) => t + cpuOf(h.child.pid!), 0),
      postgres: pidsOf("postgres").reduce((t, pid) => t + cpuOf(pid), 0),
      mosquitto: pidsOf("mosquitto").reduce((t, pid) => t + cpuOf(pid), 0),
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    });
    /** Where the CPU went between two readings, by process kind. */
    const spent = (a: ReturnType<typeof cpu>, b: ReturnType<typeof cpu>): string =>
      (Object.keys(a) as (keyof typeof a)[]).map((k) => `${k} ${(b[k] - a[k]).toFixed(1)}`).join(", ");
    if (PROFILE) {
      await db.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
      await db.query("SELECT pg_stat_statements_reset()");
    }
    const statements = async () => {
      const q = await db.query<{ calls: unknown; ms: unknown; query: string }>(
        "SELECT calls, round(total_exec_time::numeric, 0) AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query FROM pg_stat_statements ORDER BY calls DESC LIMIT 25",
      );
      for (const row of q.rows) log(`  ${String(row.calls).padStart(7)} calls ${String(row.ms).padStart(6)} ms  ${row.query}`);
      await db.query("SELECT pg_stat_statements_reset()");
    };
    const cpu0 = cpu();
    const ms = await fanout(fanoutPerson, panelIds);
    if (PROFILE) {
      const cpu1 = cpu();
      log(`CPU s during the fan-out: ${spent(cpu0, cpu1)} (agent hosts: hosts; wall ${(ms / 1000).toFixed(1)} s, 2 cores)`);
      const ph = await db.query<Record<string, unknown>>(
        `SELECT extract(epoch FROM min(sent_at) - min(created_at)) * 1000 AS first_sent, extract(epoch FROM max(sent_at) - min(created_at)) * 1000 AS last_sent,
                extract(epoch FROM min(acked_at) - min(created_at)) * 1000 AS first_ack, extract(epoch FROM max(acked_at) - min(created_at)) * 1000 AS last_ack
         FROM commands WHERE person_id = $1`,
        [fanoutPerson],
      );
      const f = (k: string) => Math.round(Number(ph.rows[0]![k]));
      log(`from the PUT's transaction start (database clock): first sent ${f("first_sent")} ms (the commit is just before), last sent ${f("last_sent")}, first ack recorded ${f("first_ack")}, last ${f("last_ack")}`);
      // Stray state messages and late acks land after the last ack; wait a little so they count too.
      await new Promise((r) => setTimeout(r, 3000));
      await statements();
    }
    log(`fanout to ${PANELS} panels: ${Math.round(ms)} ms`);

    const keypadGranted = async (code: string): Promise<number> => {
      let granted = 0;
      const checks = [...panelIds];
      await Promise.all(Array.from({ length: 8 }, async () => {
        for (let id = checks.shift(); id !== undefined; id = checks.shift()) {
          const kp = await KeypadTestClient.connect(join(dir, "agents", id, "keypad.sock"));
          try {
            await kp.hello("kp-bench", [1]);
            kp.send({ t: "entry", action: "arm_away", code });
            const line = lastDisplay(await kp.sync())?.line2;
            if (typeof line === "string" && line.startsWith("Access granted")) granted++;
          } finally {
            kp.close();
          }
        }
      }));
      return granted;
    };
    const granted = await keypadGranted("7315");
    log(`keypad: ${granted}/${PANELS} granted`);

    // Sustained: WRITERS clients, each over its own share of the panels (two calls over the same panels
    // would wait for each other's row locks), each making CMD_ROUNDS bulk calls one after the other
    // (a label change at each of its panels), alternating between the workers; until the last ack is recorded.
    // Each client changes its own person (a bulk call locks the person's row for its transaction: two
    // calls for one person wait for each other); the people are switched on at their shares first.
    let round = 0;
    const sustained = async (people: string[], panels: string[]): Promise<{ perS: number; commands: number; writeMs: number; ms: number; cpuAtStart: ReturnType<typeof cpu> }> => {
      const writers = Math.min(people.length, panels.length);
      const share = Math.ceil(panels.length / writers);
      const shareOf = (w: number) => panels.slice(w * share, (w + 1) * share);
      await Promise.all(people.slice(0, writers).map((personId, w) => fanout(personId, shareOf(w))));
      // CPU from here: the people's switch-on just above is not the sustained phase's work
      const cpuAtStart = cpu();
      const t0 = performance.now();
      const ids: string[] = [];
      await Promise.all(Array.from({ length: writers }, async (_, w) => {
        const mine = shareOf(w);
        for (let k = 0; k < CMD_ROUNDS; k++) {
          const label = `Load ${++round}`;
          const r = await workers[(w + k) % 2]!.api.put<{ commands: string[] }>(`/api/v1/people/${people[w]}/panels`, { panels: mine.map((panelId) => ({ panelId, enabled: true, label })) });
          if (r.status !== 200) throw new Error(`load: ${r.status} ${JSON.stringify(r.body)}`);
          ids.push(...r.body.commands);
        }
      }));
      const writeMs = performance.now() - t0;
      await allApplied(ids, 600_000, 50);
      const ms = performance.now() - t0;
      return { perS: (ids.length * 1000) / ms, commands: ids.length, writeMs, ms, cpuAtStart };
    };
    const loadPeople: string[] = [];
    for (let w = 0; w < WRITERS; w++) loadPeople.push(await person(`Load${w}`, String(4100 + w * 37)));
    const cmdFloor = await sustained([floorPerson], [panelIds[0]!]);
    if (PROFILE) await db.query("SELECT pg_stat_statements_reset()");
    log(`commands, one panel: ${cmdFloor.commands} in ${Math.round(cmdFloor.ms)} ms = ${Math.round(cmdFloor.perS)}/s`);
    const cmds = await sustained(loadPeople, panelIds);
    const cpu2 = cmds.cpuAtStart;
    if (PROFILE) {
      const cpu3 = cpu();
      log(`CPU s during the sustained calls: ${spent(cpu2, cpu3)} (wall ${(cmds.ms / 1000).toFixed(1)} s)`);
      await statements();
    }
    log(`commands, ${PANELS} panels: ${cmds.commands} in ${Math.round(cmds.ms)} ms = ${Math.round(cmds.perS)}/s (the API calls wrote them in ${Math.round(cmds.writeMs)} ms: ${Math.round((cmds.commands * 1000) / cmds.writeMs)}/s)`);

    // Reconcile: agents reset at once (new epoch, empty table) until every panel reports its desired table again.
    const reconcile = async (panels: string[]): Promise<number> => {
      const rows = await db.query("SELECT * FROM panels WHERE id = ANY($1::text[])", [panels]);
      const before = new Map(rows.rows.map((r) => [String(r.id), String(r.epoch)]));
      const desired = await desiredDigests(db, rows.rows.map(panelFromRow));
      const t0 = performance.now();
      const resetMs = await Promise.all(hosts.map((h) => {
        const mine = h.panels.filter((p) => before.has(p));
        return mine.length > 0 ? resetAgents(h, mine) : Promise.resolve(0);
      }));
      log(`  ${panels.length} agents reset (new database) in ${Math.max(...resetMs)} ms (the slowest host)`);
      await waitFor(async () => {
        const q = await db.query<{ id: string; epoch: string | null; digest: string | null }>("SELECT id, epoch, digest FROM panels WHERE id = ANY($1::text[])", [panels]);
        return q.rows.every((r) => r.epoch !== null && r.epoch !== before.get(r.id) && r.digest === desired.get(r.id));
      }, 600_000, `${panels.length} reset panels to converge`, 50);
      const ms = performance.now() - t0;
      if (PROFILE) {
        const ph = await db.query<Record<string, unknown>>(
          `SELECT count(*) AS n, extract(epoch FROM max(created_at) - min(created_at)) * 1000 AS written, extract(epoch FROM max(sent_at) - min(created_at)) * 1000 AS sent,
                  extract(epoch FROM max(acked_at) - min(created_at)) * 1000 AS acked
           FROM commands WHERE kind = 'snapshot' AND panel_id = ANY($1::text[]) AND created_at > now() - ($2::int * interval '1 millisecond')`,
          [panels, Math.ceil(ms) + 1000],
        );
        const r = ph.rows[0]!;
        log(`  ${String(r.n)} snapshots; from the first written (database clock): last written ${Math.round(Number(r.written))} ms, last sent ${Math.round(Number(r.sent))}, last acked ${Math.round(Number(r.acked))}`);
      }
      return ms;
    };
    const reconcileFloor = await reconcile([panelIds[0]!]);
    log(`reconcile, one panel: ${Math.round(reconcileFloor)} ms`);
    const reconcileMs = await reconcile(panelIds);
    log(`reconcile, ${PANELS} panels: ${Math.round(reconcileMs)} ms`);
    const grantedAfter = await keypadGranted("7315");
    log(`keypad after the reset: ${grantedAfter}/${PANELS} granted`);
    await db.close();
    return {
      [`fleet_fanout_${PANELS}_ms`]: Math.round(ms), fleet_fanout_floor_ms: Math.round(floor), fleet_fanout_keypad_granted: granted,
      fleet_cmds_per_s: Math.round(cmds.perS), fleet_cmds_floor_per_s: Math.round(cmdFloor.perS),
      [`fleet_reconcile_${PANELS}_ms`]: Math.round(reconcileMs), fleet_reconcile_floor_ms: Math.round(reconcileFloor), fleet_reconcile_keypad_granted: grantedAfter,
    };
  } catch (err) {
    // What the workers logged at warn and above, for the failure's cause.
    for (const w of workers) for (const line of w.warnings.slice(-8)) log(`${w.id}: ${line}`);
    throw err;
  } finally {
    for (const w of workers) await stopWorker(w).catch(() => {});
    for (const h of hosts) await stopHost(h).catch(() => {});
    await server?.stop().catch(() => {});
    await broker.dispose().catch(() => {});
    dirs.cleanup();
  }
}
