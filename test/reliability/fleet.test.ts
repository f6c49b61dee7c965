/**
 * The fleet fault suite, CI-sized: 20 panels (+1 taken offline), two panel-fleet worker processes
 * on a PostgreSQL 15 server, mosquitto; a SIGKILLed worker, a PostgreSQL restart and an offline
 * panel whose queue overflowed (replays of its own envelopes past mosquitto's max_queued_messages,
 * then the fleet's commands, which mosquitto drops), all in one burst. `npm run reliability` runs
 * it longer. And on a three-node NATS cluster (nats-server 2.9, JetStream, its MQTT listener on
 * each node; panels spread over the nodes, the workers on the first and last): a node of panels
 * SIGKILLed mid-burst and started again; `npm run reliability` also kills a worker's node.
 */
import { describe, expect, it } from "vitest";
import { NATS_BIN } from "../helpers/nats.js";
import { POSTGRES_INSTALLED } from "../helpers/postgres.js";
import { runFleetFaults } from "./fleet.js";

describe.skipIf(!POSTGRES_INSTALLED)("panel-fleet under faults (two worker processes, PG15, mosquitto)", () => {
  it("loses nothing, applies nothing twice and converges after a worker SIGKILL, a PostgreSQL restart and an offline panel", async () => {
    const r = await runFleetFaults({ panels: 20, people: 6, changes: 150, faults: ["kill_worker", "restart_postgres", "offline_panel"], settleMs: 45_000, keypadSample: 4, eventShareGroup: "faults", progress: (line) => console.log(line) });
    console.log(JSON.stringify({ ...r, details: undefined }), "\n", r.details.join("\n"));
    expect(r.fleet_worker_kills).toBe(1);
    expect(r.fleet_pg_restarts).toBe(1);
    expect(r.fleet_offline_panels).toBe(1);
    // the overflow happened: the replays past the queue and at least one of the fleet's envelopes were dropped
    expect(r.fleet_offline_broker_dropped).toBeGreaterThanOrEqual(21);
    expect(r.fleet_offline_fleet_dropped).toBeGreaterThanOrEqual(1);
    expect(r.fleet_acked_changes).toBeGreaterThan(100);
    expect(r.fleet_keypad_checks).toBeGreaterThan(0);
    // "another takes its panels over within seconds": the lease (10 s) runs out, then the next round takes them;
    // the PostgreSQL restart of the same burst can add a few seconds
    expect(r.fleet_takeover_ms).toBeGreaterThan(0);
    expect(r.fleet_takeover_ms).toBeLessThan(30_000);
    expect(r.fleet_events_sent).toBeGreaterThan(0);
    expect({ lost: r.fleet_lost, duplicated: r.fleet_duplicated, unconverged: r.fleet_unconverged, unanswered: r.fleet_api_unanswered, eventsLost: r.fleet_events_lost }).toEqual({ lost: 0, duplicated: 0, unconverged: 0, unanswered: 0, eventsLost: 0 });
  }, 280_000);
});

describe.skipIf(!POSTGRES_INSTALLED || !NATS_BIN)("panel-fleet under faults (two worker processes, PG15, a three-node NATS cluster)", () => {
  it("loses nothing, applies nothing twice and converges with a node of panels SIGKILLed mid-burst; the panels on the other nodes converge while it is down", async () => {
    const r = await runFleetFaults({ panels: 15, people: 6, changes: 120, broker: "nats", faults: ["stop_nats_node"], settleMs: 60_000, keypadSample: 3, progress: (line) => console.log(line) });
    console.log(JSON.stringify({ ...r, details: undefined }), "\n", r.details.join("\n"));
    expect(r.fleet_nats_node_stops).toBe(1);
    expect(r.fleet_nats_panels_on_stopped_node).toBe(5);
    expect(r.fleet_nats_commands_while_down).toBeGreaterThan(0);
    expect(r.fleet_nats_outage_unconverged).toBe(0);
    expect(r.fleet_acked_changes).toBeGreaterThan(60);
    expect(r.fleet_keypad_checks).toBeGreaterThan(0);
    expect({ lost: r.fleet_lost, duplicated: r.fleet_duplicated, unconverged: r.fleet_unconverged, unanswered: r.fleet_api_unanswered }).toEqual({ lost: 0, duplicated: 0, unconverged: 0, unanswered: 0 });
  }, 280_000);
});
