/**
 * panel-fleet under faults, on real parts: a PostgreSQL 15 server, mosquitto (a small
 * `max_queued_messages`, so a stopped panel's queue overflows), real agents in agent-host
 * processes (test/scale/agent-host.ts) and two `panel-fleet` worker PROCESSES (the binary as users
 * run it). A burst of API changes (codes, switches on/off, labels) goes to both workers while:
 *   - one worker is SIGKILLed mid-burst (the other must take its panels over: takeover measured),
 *   - PostgreSQL is restarted (`pg_ctl restart -m fast`),
 *   - one panel's agent is stopped; its queue at the broker is filled past `max_queued_messages`
 *     with replays of its own earlier envelopes (a third party on the broker), then the fleet's
 *     commands for it are dropped by mosquitto (counted from its $SYS dropped counter); restarted,
 *     the panel must still get them (the cloud client resends what was never acked).
 * On NATS (`broker: "nats"`, three nodes, panels spread over them, the workers on nodes 1 and 3):
 *   - node 2 is SIGKILLed mid-burst and the burst goes on; the panels on nodes 1 and 3 must
 *     converge while it is down (`fleet_nats_outage_unconverged`), then it comes back and its
 *     panels (which take one broker URL: they wait for their node) catch up.
 *     In `npm test` (test/reliability/fleet.test.ts). Sent during JetStream's leader election, a
 *     publish can time out and nats-server close the worker's connection; a resubscribe refused
 *     meanwhile (SUBACK 0x80) is retried by the cloud client (test/integration/cloud-subscribe-retry.test.ts).
 * At the end, after convergence:
 *   lost        acknowledged (2xx) changes whose effect no panel holds (the agent's own table),
 *   duplicated  a journal command applied twice at a panel (the agent's `applied` records by command id),
 *   unconverged panels whose reported digest differs from the fleet's desired digest, plus keypad
 *               answers (a sample of panels, every person) that differ from the desired state.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import mqtt, { type MqttClient } from "mqtt";
import { generateSigningKey, rawPrivateKey } from "../../protocol/index.js";
import { postgresDb, type Db } from "../../src/fleet/db.js";
import { KeypadTestClient, lastDisplay } from "../helpers/keypad-client.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { NatsCluster } from "../helpers/nats.js";
import { PG_BIN, PostgresServer } from "../helpers/postgres.js";
import { seededRandom } from "../helpers/random.js";
import { tempDirs } from "../helpers/tmp.js";
import { startHost as startHostIn, startWorker as startWorkerIn, stopHost, stopWorker, type AgentHost, type FleetRigContext, type Worker } from "../scale/fleet-rig.js";
import { waitOrGiveUp } from "../helpers/wait.js";

const run = promisify(execFile);

const BROKER_QUEUE = 120;
/** Replays of the offline panel's own earlier envelopes put on its topic while it is stopped: past the queue. */
const OFFLINE_REPLAYS = BROKER_QUEUE + 20;

export type FleetFault = "kill_worker" | "restart_postgres" | "offline_panel" | "stop_nats_node";

/** The NATS cluster's node stopped by default (`stop_nats_node`): a third of the panels are on it, no worker. */
const NATS_STOPPED = 1;
/** Which node each worker is on in a NATS run. */
const NATS_WORKER_NODE = [0, 2] as const;

export interface FleetFaultOptions {
  panels: number;
  people: number;
  /** API changes in the burst. */
  changes: number;
  faults: readonly FleetFault[];
  /**
   * mosquitto (one broker, a small queue: `offline_panel`) or a three-node NATS 2.9 cluster
   * (panels spread over the nodes, the workers on nodes 1 and 3: `stop_nats_node`).
   */
  broker?: "mosquitto" | "nats";
  /** How long the panels on the surviving nodes may take to converge while a NATS node is down. */
  outageSettleMs?: number;
  /** Which NATS node `stop_nats_node` stops (0-based; default 1, the one without a worker; 0 is worker w-a's). */
  natsStopNode?: number;
  /** How long convergence may take after the burst. */
  settleMs?: number;
  /** Panels whose keypad is tried with every person's code. */
  keypadSample?: number;
  /**
   * The workers' events through this MQTT shared subscription (FLEET_EVENT_SHARE_GROUP; mosquitto
   * only): the keypad checks' events are counted (`fleet_events_lost`), with a killed worker
   * started again under its id once they are made (its share waits in its session).
   */
  eventShareGroup?: string;
  seed?: number;
  progress?: (line: string) => void;
  /** Workers from dist/ (built by the caller, see buildDist), as users run them; from the sources through tsx otherwise. */
  built?: boolean;
}

export interface FleetFaultResult {
  fleet_lost: number;
  fleet_duplicated: number;
  fleet_unconverged: number;
  fleet_acked_changes: number;
  fleet_unknown_outcome: number;
  fleet_commands: number;
  fleet_worker_kills: number;
  fleet_takeover_ms: number;
  fleet_pg_restarts: number;
  fleet_offline_panels: number;
  fleet_offline_commands_queued: number;
  /** Messages mosquitto dropped while the offline panel was stopped (its $SYS publish/messages/dropped counter). */
  fleet_offline_broker_dropped: number;
  /** Of those, the fleet's own envelopes for the panel (the rest: replays beyond the queue). */
  fleet_offline_fleet_dropped: number;
  fleet_keypad_checks: number;
  fleet_converge_ms: number;
  /** NATS node kills (`stop_nats_node`). */
  fleet_nats_node_stops: number;
  /** Panels on the stopped node's and the surviving nodes'. */
  fleet_nats_panels_on_stopped_node: number;
  /** Panels on surviving nodes still not converged when the outage's deadline came (the node still down). */
  fleet_nats_outage_unconverged: number;
  /** How long the surviving nodes' panels took to converge with the node down (-1: not within the deadline). */
  fleet_nats_outage_converge_ms: number;
  /** Commands acknowledged for the stopped node's panels while it was down. */
  fleet_nats_commands_while_down: number;
  /** API calls a live worker did not answer within the client's timeout: the burst stops at the first (must be 0). */
  fleet_api_unanswered: number;
  /** Access events of the keypad checks (one per entry) the fleet did not store (must be 0). */
  fleet_events_lost: number;
  /** Access events the keypad checks made (two entries per check). */
  fleet_events_sent: number;
  details: string[];
}


/** Postgres refuses to run as root; the helper runs its tools as the postgres user, so does this. */
async function pgCtl(server: PostgresServer, args: string[]): Promise<void> {
  const bin = join(PG_BIN, "pg_ctl");
  const full = ["-D", server.dataDir, ...args];
  if (process.getuid?.() === 0) await run("runuser", ["-u", "postgres", "--", bin, ...full]);
  else await run(bin, full);
}

/** The tests' one wait, giving up at the deadline; a probe that throws (PostgreSQL restarting) counts as not yet. */
function until<T>(probe: () => Promise<T | undefined | false>, timeoutMs: number, pollMs = 200): Promise<T | undefined> {
  return waitOrGiveUp(() => probe().catch(() => undefined), timeoutMs, pollMs);
}

/**
 * What a panel left unconverged looks like from the inside: its row (lease, what it last reported),
 * its commands without a final fate (and the last ones that got one), and every worker log line
 * (warnings and errors, as the rig keeps them) that names it.
 */
async function stuckPanels(db: Db, workers: readonly Worker[], panelIds: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const panelId of panelIds) {
    try {
      const p = (await db.query("SELECT id, next_seq, last_seq, online, state_at, last_ack_at, lease_owner, lease_until, now() AS db_now FROM panels WHERE id = $1", [panelId])).rows[0];
      out.push(`stuck ${panelId}: ${JSON.stringify(p)}`);
      const open = await db.query("SELECT seq, kind, status, attempts, sent_at, acked_at, error_code FROM commands WHERE panel_id = $1 AND status = 'pending' ORDER BY seq LIMIT 10", [panelId]);
      for (const r of open.rows) out.push(`  pending ${JSON.stringify(r)}`);
      const last = await db.query("SELECT seq, kind, status, wire_seq, sent_at, acked_at, error_code FROM commands WHERE panel_id = $1 AND status <> 'pending' ORDER BY seq DESC LIMIT 3", [panelId]);
      for (const r of last.rows) out.push(`  settled ${JSON.stringify(r)}`);
    } catch (err) {
      out.push(`stuck ${panelId}: journal not readable (${(err as Error).message})`);
    }
    for (const w of workers) for (const l of w.warnings.filter((x) => x.includes(`"${panelId}"`)).slice(-10)) out.push(`  ${w.id}: ${l}`);
  }
  return out;
}

/** The database's sessions that are not idle: who waits on what, for how long (a stalled API call's diagnosis). */
async function databaseSessions(db: Db): Promise<string[]> {
  try {
    const r = await db.query(
      `SELECT pid, application_name AS app, state, wait_event_type, wait_event, pg_blocking_pids(pid) AS blocked_by,
              round(extract(epoch FROM now() - xact_start) * 1000) AS xact_ms, round(extract(epoch FROM now() - state_change) * 1000) AS state_ms,
              left(query, 160) AS query
       FROM pg_stat_activity WHERE backend_type = 'client backend' AND state <> 'idle' AND pid <> pg_backend_pid() ORDER BY xact_start NULLS LAST`,
    );
    return r.rows.length === 0 ? ["database sessions: none busy"] : r.rows.map((x) => `database session ${JSON.stringify(x)}`);
  } catch (err) {
    return [`database sessions not readable: ${(err as Error).message}`];
  }
}

export async function runFleetFaults(o: FleetFaultOptions): Promise<FleetFaultResult> {
  const t0 = Date.now();
  const progress = (line: string) => o.progress?.(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${line}`);
  const { next: random } = seededRandom(o.seed ?? 15);
  const details: string[] = [];
  const dirs = tempDirs();
  const dir = dirs.make("fleet-faults-");
  const signing = generateSigningKey();
  const signingKeyFile = join(dir, "signing.key");
  writeFileSync(signingKeyFile, rawPrivateKey(signing.privateKey).toString("hex"), { mode: 0o600 });
  const codeKeyFile = join(dir, "code.key");
  // The queue limit is per client and the workers are clients too: it must hold every panel's retained
  // state a worker is sent when it subscribes (at 10, a worker never heard the 31st panel's state).
  const onNats = o.broker === "nats";
  // $SYS every second: the dropped-messages counter is read around the offline panel's outage
  const broker = onNats ? undefined : new Mosquitto({ maxQueuedMessages: BROKER_QUEUE, extra: ["sys_interval 1"] });
  let tap: MqttClient | undefined;
  const cluster = onNats ? new NatsCluster(3) : undefined;
  let server: PostgresServer | undefined;
  let db: Db | undefined;
  const hosts: AgentHost[] = [];
  const workers: Worker[] = [];
  const result: FleetFaultResult = {
    fleet_lost: 0, fleet_duplicated: 0, fleet_unconverged: 0, fleet_acked_changes: 0, fleet_unknown_outcome: 0, fleet_commands: 0,
    fleet_worker_kills: 0, fleet_takeover_ms: 0, fleet_pg_restarts: 0, fleet_offline_panels: 0, fleet_offline_commands_queued: 0,
    fleet_offline_broker_dropped: 0, fleet_offline_fleet_dropped: 0, fleet_keypad_checks: 0, fleet_converge_ms: 0, fleet_nats_node_stops: 0, fleet_nats_panels_on_stopped_node: 0, fleet_nats_outage_unconverged: 0,
    fleet_nats_outage_converge_ms: 0, fleet_nats_commands_while_down: 0, fleet_api_unanswered: 0, fleet_events_lost: 0, fleet_events_sent: 0, details,
  };

  let ctx: FleetRigContext | undefined;
  // on NATS each host and worker is given its node's URL (the agent takes one broker URL, see src/config.ts)
  const startHost = (name: string, panels: string[], brokerUrl = ctx!.brokerUrl) => startHostIn({ ...ctx!, brokerUrl }, name, panels);
  const startWorker = (id: string, brokerUrl = ctx!.brokerUrl) => startWorkerIn({ ...ctx!, brokerUrl }, id);

  try {
    if (cluster) await cluster.start();
    else await broker!.start();
    server = await PostgresServer.start();
    db = postgresDb(server.url);
    ctx = { dir, brokerUrl: cluster ? cluster.mqttUrl(0) : broker!.url, signing, signingKeyFile, codeKeyFile, databaseUrl: server.url, progress, built: o.built === true, ...(o.eventShareGroup ? { eventShareGroup: o.eventShareGroup } : {}) };
    const offlinePanel = !onNats && o.faults.includes("offline_panel") ? "flt-offline" : undefined;
    const panelIds = Array.from({ length: o.panels }, (_, i) => `flt-${String(i + 1).padStart(4, "0")}`);
    /** NATS: the panels on each node (panel i on node i mod 3). */
    const onNode = cluster ? Array.from({ length: cluster.size }, (_, n) => panelIds.filter((_, i) => i % cluster.size === n)) : [];
    if (cluster) for (let n = 0; n < cluster.size; n++) hosts.push(await startHost(`node${n}`, onNode[n]!, cluster.mqttUrl(n)));
    else hosts.push(await startHost("main", panelIds));
    if (offlinePanel) hosts.push(await startHost("offline", [offlinePanel]));
    const allPanels = offlinePanel ? [...panelIds, offlinePanel] : panelIds;
    workers.push(await startWorker("w-a", cluster?.mqttUrl(NATS_WORKER_NODE[0])));
    workers.push(await startWorker("w-b", cluster?.mqttUrl(NATS_WORKER_NODE[1])));
    progress(`fleet faults: ${allPanels.length} panels, 2 workers, PG15, ${cluster ? "a three-node NATS cluster" : "mosquitto"}; enrolling`);
    // A third party on the broker: it hears what the workers publish to the offline panel (to
    // replay it later) and mosquitto's count of dropped messages.
    const tapped: { at: number; payload: Buffer }[] = [];
    let brokerDropped = -1;
    if (offlinePanel) {
      tap = await mqtt.connectAsync(broker!.url, { clientId: "fault-tap", clean: true, reconnectPeriod: 1000 });
      tap.on("message", (topic, payload) => {
        if (topic.startsWith("$SYS/")) brokerDropped = Number(payload.toString());
        else tapped.push({ at: Date.now(), payload: Buffer.from(payload) });
      });
      await tap.subscribeAsync([`panels/${offlinePanel}/cmd`, "$SYS/broker/publish/messages/dropped"], { qos: 1 });
    }
    for (const id of allPanels) {
      // a worker that just started may not have heard every panel's retained state yet (503 panel_unreachable)
      const r = await until(async () => {
        const a = await workers[0]!.api.post("/api/v1/panels", { id });
        return a.status === 503 ? undefined : a;
      }, 30_000, 250);
      if (r?.status !== 201) throw new Error(`enrol ${id}: ${r?.status ?? "still 503 after 30 s"} ${JSON.stringify(r?.body ?? null)}`);
    }

    // desired state as the API acknowledged it; "unknown" where the answer never came (a killed worker)
    const people: { id: string; code: string; codeKnown: boolean }[] = [];
    for (let i = 0; i < o.people; i++) {
      const w = workers[i % 2]!;
      const p = await w.api.post<{ id: string }>("/api/v1/people", { firstName: `Fault${i}`, lastName: "Person" });
      const code = String(1000 + i * 37 + 101).padStart(4, "0");
      const c = await w.api.put(`/api/v1/people/${p.body.id}/code`, { code });
      if (c.status !== 200) throw new Error(`code: ${c.status} ${JSON.stringify(c.body)}`);
      people.push({ id: p.body.id, code, codeKnown: true });
    }
    type Want = { enabled: boolean; label: string | null; known: boolean };
    const want = new Map<string, Want>(); // `${personId} ${panelId}`
    const commandIds: string[] = [];

    const live = () => workers.filter((w) => w.alive);
    const change = async (n: number): Promise<void> => {
      const w = live()[n % live().length]!;
      const person = people[Math.floor(random() * people.length)]!;
      const panelId = allPanels[Math.floor(random() * allPanels.length)]!;
      const key = `${person.id} ${panelId}`;
      const roll = random();
      try {
        if (roll < 0.1) {
          // a new code for the person: it goes to every panel the person is on
          const code = String(2000 + Math.floor(random() * 7000)).padStart(4, "0");
          const r = await w.api.put<{ commands: string[] }>(`/api/v1/people/${person.id}/code`, { code });
          if (r.status === 200) {
            person.code = code;
            person.codeKnown = true;
            commandIds.push(...r.body.commands);
            result.fleet_acked_changes++;
          } else if (r.status >= 500) person.codeKnown = false;
          return;
        }
        const enabled = roll < 0.75;
        const label = enabled && random() < 0.5 ? `L${n}` : null;
        const r = await w.api.put<{ commands: string[] }>(`/api/v1/people/${person.id}/panels/${panelId}`, enabled ? { enabled, label } : { enabled });
        if (r.status === 200) {
          want.set(key, { enabled, label: enabled ? label : (want.get(key)?.label ?? null), known: true });
          commandIds.push(...r.body.commands);
          result.fleet_acked_changes++;
        } else if (r.status >= 500) want.set(key, { enabled, label, known: false });
      } catch (err) {
        // no answer (the worker died under the request): the change may or may not have committed
        result.fleet_unknown_outcome++;
        if ((err as Error).name === "TimeoutError" && w.alive) await unanswered(w, n);
        if (roll < 0.1) person.codeKnown = false;
        else want.set(key, { enabled: false, label: null, known: false });
      }
    };

    // A live worker that leaves a call unanswered: what the database's sessions were doing then goes
    // into the details, and the bursts stop (each further call would wait the client's timeout again).
    const unanswered = async (w: Worker, n: number): Promise<void> => {
      result.fleet_api_unanswered++;
      if (result.fleet_api_unanswered > 1) return;
      const stall = [
        `change ${n}: worker ${w.id} did not answer within ${w.api.timeoutMs} ms; the bursts stop here`,
        ...(await databaseSessions(db!)),
        ...workers.map((x) => `worker ${x.id} ${x.alive ? "alive" : "gone"}; last warnings: ${x.warnings.slice(-5).join(" | ") || "none"}`),
      ];
      details.push(...stall);
      progress(`STALL: ${stall.join("\n")}`);
    };
    const burst = async (from: number, to: number) => {
      let next = from;
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (let n = next++; n < to && result.fleet_api_unanswered === 0; n = next++) await change(n);
      }));
    };
    const third = Math.floor(o.changes / 3);
    await burst(0, third);
    progress(`burst: first third done (${result.fleet_acked_changes} acknowledged)`);

    let offlineHost: AgentHost | undefined;
    if (offlinePanel) {
      // the panel has had (and applied) at least one envelope: something of its own to replay
      const offlinePerson = people[0]!;
      const first = await live()[0]!.api.put<{ commands: string[] }>(`/api/v1/people/${offlinePerson.id}/panels/${offlinePanel}`, { enabled: true, label: "Before" });
      if (first.status === 200) {
        want.set(`${offlinePerson.id} ${offlinePanel}`, { enabled: true, label: "Before", known: true });
        commandIds.push(...first.body.commands);
        result.fleet_acked_changes++;
      }
      const settled = await until(async () => {
        const r = await db!.query("SELECT 1 FROM commands WHERE panel_id = $1 AND status = 'pending' LIMIT 1", [offlinePanel]);
        return r.rows.length === 0 && tapped.length > 0;
      }, 30_000, 200);
      if (!settled) details.push(`offline panel ${offlinePanel}: its first commands not settled (or not heard by the tap) within 30 s`);
      offlineHost = hosts[1]!;
      await stopHost(offlineHost);
      const stoppedAt = Date.now();
      await until(() => Promise.resolve(brokerDropped >= 0), 5_000, 100);
      const droppedBefore = brokerDropped;
      // Its own earlier envelopes again, past the broker's queue for its session (a replay: the
      // agent answers each from its stored results), then the fleet's commands: the queue is full,
      // mosquitto drops them. The fleet must get them there anyway once the panel is back.
      const own = tapped.map((t) => t.payload);
      for (let i = 0; i < OFFLINE_REPLAYS; i++) await tap!.publishAsync(`panels/${offlinePanel}/cmd`, own[i % own.length]!, { qos: 1 });
      const replayed = new Set(own.map((b) => b.toString("base64")));
      // commands pile up for the stopped panel, far past the broker's queue
      for (let i = 0; result.fleet_offline_commands_queued < BROKER_QUEUE + 60 && i < 400; i++) {
        const person = people[i % people.length]!;
        const r = await live()[0]!.api.put<{ commands: string[] }>(`/api/v1/people/${person.id}/panels/${offlinePanel}`, { enabled: true, label: `Off${i}` });
        if (r.status === 200) {
          want.set(`${person.id} ${offlinePanel}`, { enabled: true, label: `Off${i}`, known: true });
          commandIds.push(...r.body.commands);
          result.fleet_acked_changes++;
          result.fleet_offline_commands_queued += r.body.commands.length;
        }
      }
      await new Promise((r) => setTimeout(r, 1500));
      // the counter is published every second: wait for one that counts the last publish
      const fleetSent = () => tapped.filter((t) => t.at >= stoppedAt && !replayed.has(t.payload.toString("base64"))).length;
      await until(() => Promise.resolve(brokerDropped - droppedBefore >= OFFLINE_REPLAYS - BROKER_QUEUE + fleetSent()), 5_000, 200);
      result.fleet_offline_broker_dropped = brokerDropped - droppedBefore;
      // the queue was empty when the panel stopped (its commands settled): the first BROKER_QUEUE replays were kept
      result.fleet_offline_fleet_dropped = Math.max(0, result.fleet_offline_broker_dropped - (OFFLINE_REPLAYS - BROKER_QUEUE));
      result.fleet_offline_panels++;
      details.push(
        `offline panel ${offlinePanel}: ${OFFLINE_REPLAYS} replays of its own envelopes, then ${result.fleet_offline_commands_queued} commands (${fleetSent()} envelopes from the workers) while its agent was stopped; ` +
          `broker queue ${BROKER_QUEUE}, mosquitto dropped ${result.fleet_offline_broker_dropped} (${result.fleet_offline_fleet_dropped} of them the fleet's)`,
      );
    }

    // A NATS node dies with a third of the panels on it; the burst goes on; the other panels must
    // converge while it is down; then the node comes back and its panels catch up.
    let stoppedPanels: string[] = [];
    const stopNode = o.natsStopNode ?? NATS_STOPPED;
    if (cluster && o.faults.includes("stop_nats_node")) {
      stoppedPanels = onNode[stopNode]!;
      result.fleet_nats_panels_on_stopped_node = stoppedPanels.length;
      const before = result.fleet_acked_changes;
      const downAt = Date.now();
      await cluster.stop(stopNode, "SIGKILL");
      result.fleet_nats_node_stops++;
      details.push(`SIGKILL NATS node ${stopNode + 1} mid-burst, ${stoppedPanels.length} panels on it`);
      const countDown = await db.query<{ n: unknown }>("SELECT count(*) AS n FROM commands WHERE panel_id = ANY($1)", [stoppedPanels]);
      await burst(third, 2 * third);
      const afterDown = await db.query<{ n: unknown }>("SELECT count(*) AS n FROM commands WHERE panel_id = ANY($1)", [stoppedPanels]);
      result.fleet_nats_commands_while_down = Number(afterDown.rows[0]!.n) - Number(countDown.rows[0]!.n);
      progress(`burst with NATS node ${stopNode + 1} down: ${result.fleet_acked_changes - before} acknowledged`);
      const stopped = new Set(stoppedPanels);
      const survivorsDrift = async () => {
        const r = await live()[0]!.api.get<{ rows: { id: string }[] }>("/api/v1/drift?perPage=200");
        return r.status === 200 ? r.body.rows.filter((x) => !stopped.has(x.id)) : undefined;
      };
      const from = Date.now();
      const ok = await until(async () => (await survivorsDrift())?.length === 0, o.outageSettleMs ?? 60_000, 500);
      result.fleet_nats_outage_converge_ms = ok ? Date.now() - from : -1;
      if (!ok) {
        const left = (await survivorsDrift().catch(() => undefined)) ?? [];
        result.fleet_nats_outage_unconverged = left.length;
        details.push(`with NATS node ${stopNode + 1} down, ${left.length} panels on surviving nodes not converged after ${Date.now() - from} ms: ${JSON.stringify(left.slice(0, 5))}`);
        details.push(...(await stuckPanels(db, workers, left.map((x) => x.id).slice(0, 5))));
      } else details.push(`with NATS node ${stopNode + 1} down, the ${allPanels.length - stoppedPanels.length} panels on surviving nodes converged ${result.fleet_nats_outage_converge_ms} ms after the burst`);
      progress(details.at(-1) ?? "");
      await cluster.startNode(stopNode);
      details.push(`NATS node ${stopNode + 1} back after ${Date.now() - downAt} ms`);
    }

    let takeoverFrom: number | undefined;
    let victimPanels: string[] = [];
    const kill = async () => {
      const victim = workers[0]!;
      victimPanels = (await db!.query<{ id: string }>("SELECT id FROM panels WHERE lease_owner = $1", [victim.id])).rows.map((r) => r.id);
      victim.child.kill("SIGKILL");
      takeoverFrom = Date.now();
      result.fleet_worker_kills++;
      details.push(`SIGKILL worker ${victim.id} mid-burst, holding the lease of ${victimPanels.length} panels`);
    };
    const burstTwo = stoppedPanels.length > 0 ? Promise.resolve() : burst(third, 2 * third);
    if (o.faults.includes("kill_worker")) {
      await new Promise((r) => setTimeout(r, 300));
      await kill();
    }
    await burstTwo;
    progress(`burst: second third done (${result.fleet_acked_changes} acknowledged)`);

    if (o.faults.includes("restart_postgres")) {
      const burstThree = burst(2 * third, o.changes);
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      await pgCtl(server, ["restart", "-m", "fast", "-w", "-t", "30", "-l", join(server.dir, "server.log")]);
      result.fleet_pg_restarts++;
      details.push(`pg_ctl restart mid-burst (${Date.now() - t0} ms)`);
      await burstThree;
    } else await burst(2 * third, o.changes);

    if (offlineHost) {
      hosts[1] = await startHost("offline", offlineHost.panels);
      details.push(`offline panel ${offlinePanel} restarted`);
    }

    progress(`burst done: ${result.fleet_acked_changes} acknowledged, ${result.fleet_unknown_outcome} without an answer`);
    // takeover: the surviving worker holds every panel the dead one held, and their commands settle
    if (takeoverFrom !== undefined) {
      const survivor = workers[1]!.id;
      // taken over = no panel of the dead worker with commands pending is still leased to it
      // (a panel with nothing pending is taken when it next has a command)
      const took = await until(async () => {
        const r = await db!.query<{ n: unknown }>("SELECT count(*) AS n FROM panels p WHERE p.id = ANY($1) AND p.lease_owner = $2 AND EXISTS (SELECT 1 FROM commands c WHERE c.panel_id = p.id AND c.status = 'pending')", [victimPanels, workers[0]!.id]);
        return Number(r.rows[0]!.n) === 0;
      }, 60_000, 100);
      result.fleet_takeover_ms = took ? Date.now() - takeoverFrom : -1;
      details.push(`takeover by ${survivor}: ${took ? `${result.fleet_takeover_ms} ms` : "NOT within 60 s"}`);
    }

    progress(details.at(-1) ?? "");
    const settleFrom = Date.now();
    const api = live()[0]!.api;
    const converged = await until(async () => {
      const r = await api.get<{ rows: unknown[]; total?: number }>("/api/v1/drift?perPage=200");
      return r.status === 200 && r.body.rows.length === 0;
    }, o.settleMs ?? 60_000, 500);
    result.fleet_converge_ms = Date.now() - settleFrom;
    progress(`converged: ${converged === true} after ${result.fleet_converge_ms} ms`);
    const drift = (await api.get<{ rows: { panelId?: string; id?: string; reason?: string; drift?: string }[] }>("/api/v1/drift?perPage=200")).body.rows;
    result.fleet_unconverged = drift.length;
    if (!converged) {
      details.push(`not converged after ${result.fleet_converge_ms} ms: ${JSON.stringify(drift.slice(0, 5))}`);
      details.push(...(await stuckPanels(db, workers, drift.map((d) => d.id ?? d.panelId ?? "").filter(Boolean).slice(0, 5))));
    }
    result.fleet_commands = Number((await db.query<{ n: unknown }>("SELECT count(*) AS n FROM commands")).rows[0]!.n);
    const fates = await db.query<{ status: string; n: unknown }>("SELECT status, count(*) AS n FROM commands GROUP BY status ORDER BY status");
    details.push(`journal: ${fates.rows.map((r) => `${r.status} ${Number(r.n)}`).join(", ")}`);

    // each agent's own table and applied records
    const slotOf = new Map<string, number>();
    for (const r of (await db.query<{ person_id: string; panel_id: string; slot: unknown }>("SELECT person_id, panel_id, slot FROM person_panels")).rows) slotOf.set(`${r.person_id} ${r.panel_id}`, Number(r.slot));
    const journalIds = new Set(commandIds);
    for (const r of (await db.query<{ id: string }>("SELECT id FROM commands")).rows) journalIds.add(r.id);
    for (const panelId of allPanels) {
      const file = join(dir, "agents", panelId, "state", "panel-agent.db");
      const sdb = new Database(file, { readonly: true, fileMustExist: true });
      try {
        const dup = sdb.prepare("SELECT command_id, count(*) AS n FROM applied WHERE outcome = 'applied' GROUP BY command_id HAVING count(*) > 1").all() as { command_id: string; n: number }[];
        for (const d of dup.filter((x) => journalIds.has(x.command_id))) {
          result.fleet_duplicated++;
          details.push(`duplicated at ${panelId}: command ${d.command_id} applied ${d.n} times`);
        }
        const slots = new Map((sdb.prepare("SELECT number, data FROM slots").all() as { number: number; data: string }[]).map((s) => [s.number, JSON.parse(s.data) as { label: string }]));
        for (const p of people) {
          const w = want.get(`${p.id} ${panelId}`);
          if (!w || !w.known) continue;
          const slot = slotOf.get(`${p.id} ${panelId}`);
          const held = slot !== undefined ? slots.get(slot) : undefined;
          const expectedLabel = w.label ?? null;
          const ok = w.enabled ? held !== undefined && (expectedLabel === null || held.label === expectedLabel) : held === undefined || slot === undefined;
          if (!ok) {
            result.fleet_lost++;
            details.push(`lost at ${panelId}: ${p.id} wanted ${JSON.stringify(w)}, panel holds ${JSON.stringify(held ?? null)} at slot ${slot ?? "-"}`);
          }
        }
      } finally {
        sdb.close();
      }
    }

    // codes at the keypad: a sample of panels, every person whose code and access are known
    const sample = allPanels.filter((_, i) => i % Math.max(1, Math.floor(allPanels.length / (o.keypadSample ?? 5))) === 0).slice(0, o.keypadSample ?? 5);
    if (offlinePanel && !sample.includes(offlinePanel)) sample.push(offlinePanel);
    for (const panelId of sample) {
      // granted ones first, at most two denied per panel: the keypad's lockout counts wrong codes
      const tried = people.filter((p) => p.codeKnown && want.get(`${p.id} ${panelId}`)?.known).sort((a, b) => Number(want.get(`${b.id} ${panelId}`)!.enabled) - Number(want.get(`${a.id} ${panelId}`)!.enabled));
      let denied = 0;
      for (const p of tried) {
        const w = want.get(`${p.id} ${panelId}`)!;
        if (!w.enabled && ++denied > 2) break;
        const kp = await KeypadTestClient.connect(join(dir, "agents", panelId, "keypad.sock"));
        try {
          await kp.hello("kp-faults", [1]);
          kp.send({ t: "entry", action: "arm_away", code: p.code });
          const shown = lastDisplay(await kp.sync())?.line2;
          const line = typeof shown === "string" ? shown : "";
          kp.send({ t: "entry", action: "disarm", code: p.code });
          await kp.sync();
          result.fleet_keypad_checks++;
          result.fleet_events_sent += 2;
          const granted = line.startsWith("Access granted");
          if (granted !== w.enabled) {
            result.fleet_unconverged++;
            details.push(`keypad at ${panelId}: ${p.id} (${w.enabled ? "on" : "off"}) answered "${line}"`);
          }
        } finally {
          kp.close();
        }
      }
    }
    // the keypad checks' access events: every one stored once (a killed worker back under its id
    // first: with a share group, part of them were routed to its session while it was dead)
    for (let i = 0; i < workers.length; i++) {
      if (workers[i]!.alive) continue;
      workers[i] = await startWorker(workers[i]!.id, cluster?.mqttUrl(NATS_WORKER_NODE[i === 0 ? 0 : 1]));
      details.push(`worker ${workers[i]!.id} started again under its id`);
    }
    const storedEvents = async () =>
      Number((await db!.query<{ n: unknown }>("SELECT count(*) AS n FROM events WHERE type = 'access' AND data->'point'->>'id' = 'kp-faults'")).rows[0]!.n);
    await until(async () => (await storedEvents()) >= result.fleet_events_sent, 30_000, 250);
    const stored = await storedEvents();
    result.fleet_events_lost = Math.max(0, result.fleet_events_sent - stored);
    details.push(`keypad checks' access events: ${result.fleet_events_sent} made, ${stored} stored${o.eventShareGroup ? ` (events shared in group ${o.eventShareGroup})` : ""}`);
    if (result.fleet_lost + result.fleet_duplicated + result.fleet_unconverged + result.fleet_events_lost > 0) for (const w of workers) details.push(...w.warnings.slice(-15).map((l) => `${w.id}: ${l}`));
    for (const w of workers) if (w.stderr.trim()) details.push(`worker ${w.id} stderr: ${w.stderr.trim().slice(-400)}`);
    return result;
  } finally {
    for (const w of workers) await stopWorker(w);
    for (const h of hosts) await stopHost(h).catch(() => {});
    await db?.close().catch(() => {});
    await server?.stop().catch(() => {});
    await tap?.endAsync(true).catch(() => {});
    await broker?.dispose().catch(() => {});
    if (cluster && result.fleet_lost + result.fleet_duplicated + result.fleet_unconverged + result.fleet_nats_outage_unconverged > 0) {
      // what the nodes refused (a subscription whose JetStream consumer could not be made, a publish
      // whose store timed out, a session still locked), without the route retries of the dead node
      for (let i = 0; i < cluster.size; i++) {
        const errs = cluster.log(i).split("\n").filter((l) => l.includes("[ERR]") && !l.includes("connect to route"));
        details.push(`NATS node ${i + 1}: ${errs.length} errors logged${errs.length ? ", the last ones:" : ""}`, ...errs.slice(-25).map((l) => `  ${l.slice(0, 300)}`));
      }
    }
    await cluster?.dispose().catch(() => {});
    dirs.cleanup();
  }
}
