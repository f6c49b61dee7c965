/**
 * `npm run reliability` runs every reliability suite the long way and prints the figures:
 * `kills acked lost duplicated integrity_failures fuzz_cases crashes secret_hits` (and more).
 * Options: `-- --kills N` (crash-suite kills, default 100), `-- --minutes M` (bound for the kill
 * loop, default 30), `-- --fuzz N` (broker fuzz cases, default 3000), `-- --model N` (model-run
 * commands, default 10000), `-- --fleet-panels N` and `-- --fleet-changes N` (the fleet fault suite:
 * panels and API changes, default 100 and 1000; it prints fleet_lost fleet_duplicated
 * fleet_unconverged), `-- --fleet-nats-panels N` and `-- --fleet-nats-changes N` (the same suite on a
 * three-node NATS cluster with a node SIGKILLed mid-burst, default 60 and 600: fleet_nats_lost,
 * fleet_nats_duplicated, fleet_nats_unconverged, fleet_nats_outage_unconverged; run again with the
 * node of a worker stopped: fleet_nats_wnode_*), `-- --fleet-only`
 * (only the two fleet runs and their figures), `-- --seed S`, `-- --json` (one JSON object on
 * stdout; progress on stderr).
 */
import { parseArgs } from "node:util";
import { runCrash } from "./crash.js";
import { runDelivery } from "./delivery.js";
import { runFleetFaults, type FleetFaultResult } from "./fleet.js";
import { runFuzz } from "./fuzz.js";
import { killStrays } from "./harness.js";
import { runLockout } from "./lockout.js";
import { buildDist } from "../scale/fleet-rig.js";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "100" },
    minutes: { type: "string", default: "30" },
    fuzz: { type: "string", default: "3000" },
    model: { type: "string", default: "10000" },
    "fleet-panels": { type: "string", default: "100" },
    "fleet-changes": { type: "string", default: "1000" },
    "fleet-nats-panels": { type: "string", default: "60" },
    "fleet-nats-changes": { type: "string", default: "600" },
    "fleet-only": { type: "boolean", default: false },
    seed: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const json = values.json === true;
const progress = (line: string) => process.stderr.write(`${line}\n`);
const seed = values.seed !== undefined ? Number(values.seed) : undefined;
const started = Date.now();

/** The fleet runs: mosquitto (worker SIGKILL, PostgreSQL restart, offline panel) and NATS (a node SIGKILLed). */
async function fleetRuns(): Promise<{ figures: Record<string, number>; details: string[] }> {
  // the workers run from dist/, as users run them
  buildDist(progress);
  const built = true;
  const fleet = await runFleetFaults({ built,
    panels: Number(values["fleet-panels"]), people: 12, changes: Number(values["fleet-changes"]),
    faults: ["kill_worker", "restart_postgres", "offline_panel"], keypadSample: 10, eventShareGroup: "faults", seed, progress,
  });
  progress("fleet fault suite done (mosquitto)");
  const nats = await runFleetFaults({ built,
    panels: Number(values["fleet-nats-panels"]), people: 12, changes: Number(values["fleet-nats-changes"]), broker: "nats",
    faults: ["stop_nats_node"], keypadSample: 10, seed, progress,
  });
  progress("fleet fault suite done (NATS, a panels-only node down)");
  // the node of worker w-a: its panels on the other nodes wait for it (it keeps their leases)
  const natsWorkerNode = await runFleetFaults({ built,
    panels: Number(values["fleet-nats-panels"]), people: 12, changes: Number(values["fleet-nats-changes"]), broker: "nats",
    faults: ["stop_nats_node"], natsStopNode: 0, keypadSample: 10, seed, progress,
  });
  progress("fleet fault suite done (NATS, a worker's node down)");
  const pick = (prefix: string, r: FleetFaultResult, keys: (keyof FleetFaultResult)[]) =>
    Object.fromEntries(keys.map((k) => [k.replace(/^fleet_/, prefix), Number(r[k])]));
  return {
    figures: {
      ...pick("fleet_", fleet, ["fleet_lost", "fleet_duplicated", "fleet_unconverged", "fleet_acked_changes", "fleet_unknown_outcome", "fleet_commands", "fleet_worker_kills",
        "fleet_takeover_ms", "fleet_pg_restarts", "fleet_offline_panels", "fleet_offline_commands_queued", "fleet_offline_broker_dropped", "fleet_offline_fleet_dropped", "fleet_keypad_checks", "fleet_converge_ms", "fleet_api_unanswered", "fleet_events_sent", "fleet_events_lost"]),
      ...pick("fleet_nats_", nats, ["fleet_lost", "fleet_duplicated", "fleet_unconverged", "fleet_acked_changes", "fleet_commands", "fleet_keypad_checks", "fleet_converge_ms", "fleet_api_unanswered", "fleet_events_sent", "fleet_events_lost"]),
      ...pick("fleet_", nats, ["fleet_nats_node_stops", "fleet_nats_panels_on_stopped_node", "fleet_nats_commands_while_down", "fleet_nats_outage_unconverged", "fleet_nats_outage_converge_ms"]),
      ...pick("fleet_nats_wnode_", natsWorkerNode, ["fleet_lost", "fleet_duplicated", "fleet_unconverged", "fleet_acked_changes", "fleet_converge_ms", "fleet_api_unanswered"]),
      fleet_nats_wnode_outage_unconverged: natsWorkerNode.fleet_nats_outage_unconverged,
      fleet_nats_wnode_outage_converge_ms: natsWorkerNode.fleet_nats_outage_converge_ms,
    },
    details: [...fleet.details, ...nats.details.map((d) => `nats: ${d}`), ...natsWorkerNode.details.map((d) => `nats, worker's node: ${d}`)],
  };
}

function print(figures: Record<string, number>, details: string[]): void {
  if (json) {
    console.log(JSON.stringify(figures));
    // The detail behind the figures (the seed, where a secret was seen, ...) on stderr, so a JSON run keeps it too.
    progress(details.slice(0, 80).join("\n"));
  } else {
    for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(32)} ${v}`);
    if (details.length > 1) console.log(`\n${details.slice(0, 80).join("\n")}`);
  }
}

try {
  if (values["fleet-only"]) {
    const f = await fleetRuns();
    print({ ...f.figures, duration_s: Math.round((Date.now() - started) / 1000) }, f.details);
  } else {
    const crash = await runCrash({ kills: Number(values.kills), maxMs: Number(values.minutes) * 60_000, seed, progress });
    progress(`crash suite done in ${Math.round(crash.duration_ms / 1000)} s`);
    const delivery = await runDelivery({ modelCommands: Number(values.model), modelRuns: 1, seed });
    progress("delivery suite done");
    const fuzz = await runFuzz({ brokerCases: Number(values.fuzz), engineCases: Number(values.fuzz) * 10, seed, progress });
    progress("fuzz suite done");
    const lockout = await runLockout();
    progress("lockout suite done");
    const fleet = await fleetRuns();

    const figures: Record<string, number> = {
      kills: crash.kills + lockout.lockout_kills,
      acked: crash.acked,
      lost: crash.lost + delivery.restart_lost + (delivery.overflow_converged ? 0 : 1),
      duplicated: crash.duplicated + delivery.restart_duplicated + (delivery.model_digest_equal ? 0 : 1),
      integrity_failures: crash.integrity_failures + delivery.integrity_failures,
      fuzz_cases: fuzz.fuzz_cases,
      crashes: crash.crashes + delivery.crashes + fuzz.crashes + lockout.crashes,
      secret_hits: crash.secret_hits + delivery.secret_hits + fuzz.secret_hits + lockout.secret_hits,
      // the detail behind the headline figures
      crash_commands: crash.commands,
      crash_pubacked: crash.pubacked,
      crash_unapplied: crash.unapplied,
      crash_unacked_at_end: crash.unacked_at_end,
      crash_table_mismatches: crash.table_mismatches,
      crash_index_mismatches: crash.index_mismatches,
      crash_events_caused: crash.events_caused,
      crash_events_lost: crash.events_lost,
      crash_events_out_of_order: crash.events_out_of_order,
      model_commands: delivery.model_commands,
      model_duplicates: delivery.model_duplicates,
      model_digest_equal: delivery.model_digest_equal,
      broker_restart_commands: delivery.restart_commands,
      broker_restart_queued_survived: delivery.restart_queued_survived,
      overflow_published: delivery.overflow_published,
      overflow_dropped: delivery.overflow_dropped,
      overflow_resync_requests: delivery.overflow_resync_requests,
      overflow_converged: delivery.overflow_converged,
      fuzz_uncoded: fuzz.uncoded,
      fuzz_engine_crashes: fuzz.engine_crashes,
      fuzz_agent_peak_rss_mb: fuzz.agent_peak_rss_mb,
      fuzz_engine_heap_growth_mb: fuzz.engine_heap_growth_mb,
      lock_survived_restart: lockout.lock_survived_restart,
      counter_survived_restart: lockout.counter_survived_restart,
      panel_lock_survived_restart: lockout.panel_lock_survived_restart,
      ...fleet.figures,
      duration_s: Math.round((Date.now() - started) / 1000),
    };
    const details = [...crash.details, ...delivery.details, ...fuzz.details, ...lockout.details, ...fleet.details];
    print(figures, details);
  }
} finally {
  await killStrays();
}
process.exit(0);
