/**
 * Delivery faults:
 *  (a) a fast-check model run: a long command stream (singles and batches) with ~30 % of its
 *      commands re-published later (new MQTT packet ids) ends in exactly the state digest,
 *      lastSeq and tableVersion of a clean single delivery to another agent;
 *  (b) mosquitto stopped and restarted mid-burst, with the agent online and then with the agent
 *      offline (commands queued in its persistent session): every command applied once;
 *  (c) the agent offline while more commands queue than the broker keeps: the broker drops them,
 *      the agent detects the gap on the next command and asks for a resync, the cloud answers
 *      with a snapshot, the table converges on the cloud's model.
 */
import fc from "fast-check";
import { encodeBatch, encodeCommand, generateSigningKey, type CommandToSend, type SigningKey, type WireCommandInput } from "../../protocol/index.js";
import type { Agent } from "../../src/agent.js";
import { Secret } from "../../src/domain/index.js";
import { agentConfig, CloudPeer, startAgent } from "../helpers/agent-harness.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { AckBook, AgentProcess, inspectDb, logSource, MqttCapture, PANEL_ID, removeTempDir, rng, secretHits, sleep, stateFiles, tempDir, waitFor, writeAgentConfig } from "./harness.js";
import { captureSources } from "./crash.js";
import { SuiteRig } from "./rig.js";
import { checkIndex, checkTable, cloudActor, CloudModel, randomLabel } from "./verify.js";

export interface DeliveryFigures {
  model_commands: number;
  model_duplicates: number;
  model_digest_equal: number;
  restart_commands: number;
  restart_lost: number;
  restart_duplicated: number;
  restart_queued_survived: number;
  overflow_published: number;
  overflow_dropped: number;
  overflow_resync_requests: number;
  overflow_converged: number;
  integrity_failures: number;
  crashes: number;
  secret_hits: number;
  details: string[];
}

// ---------------------------------------------------------------------------------------------
// (a) model run

type Op = { kind: "code"; slot: number; code: number } | { kind: "label"; slot: number; label: string } | { kind: "disable"; slot: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("code" as const), slot: fc.integer({ min: 1, max: 60 }), code: fc.integer({ min: 1001, max: 9999 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("label" as const), slot: fc.integer({ min: 1, max: 60 }), label: fc.string({ unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz "), minLength: 0, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("disable" as const), slot: fc.integer({ min: 1, max: 60 }) }) },
);

interface Stream {
  ops: Op[];
  /** Envelope sizes (1 = a single-command envelope), consumed in order until all ops are placed. */
  sizes: number[];
  /** For each envelope, how many envelopes later it is re-published (or -1: not). */
  dupSeeds: number[];
}

function streamArb(commands: number): fc.Arbitrary<Stream> {
  return fc.record({
    ops: fc.array(opArb, { minLength: commands, maxLength: commands }),
    sizes: fc.array(fc.oneof({ weight: 2, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 40 }) }), { minLength: commands, maxLength: commands }),
    dupSeeds: fc.array(fc.integer({ min: 0, max: 99 }), { minLength: commands, maxLength: commands }),
  });
}

function toCommand(op: Op, id: string): WireCommandInput {
  if (op.kind === "code") return { id, actor: cloudActor, kind: "set_code", slot: op.slot, code: new Secret(String(op.code)) };
  if (op.kind === "label") return { id, actor: cloudActor, kind: "set_label", slot: op.slot, label: op.label };
  return { id, actor: cloudActor, kind: "disable_user", slot: op.slot };
}

/** Groups the ops into envelopes; marks ~dupShare of the commands for a later re-publication. */
function plan(s: Stream, dupShare: number): { groups: CommandToSend[][]; order: number[]; duplicateCommands: number } {
  const exp = Date.now() + 24 * 3600_000;
  const groups: CommandToSend[][] = [];
  let i = 0;
  let g = 0;
  while (i < s.ops.length) {
    const n = Math.min(s.sizes[g % s.sizes.length]!, s.ops.length - i);
    groups.push(s.ops.slice(i, i + n).map((op, k) => ({ seq: i + k + 1, expiresAt: exp, command: toCommand(op, `m${i + k + 1}x`) })));
    i += n;
    g++;
  }
  // delivery order: every envelope once, plus re-publications of chosen envelopes a little later
  const order: number[] = [];
  const later = new Map<number, number[]>();
  let duplicateCommands = 0;
  let placed = 0;
  for (let e = 0; e < groups.length; e++) {
    order.push(e);
    for (const d of later.get(e) ?? []) order.push(d);
    const seed = s.dupSeeds[e % s.dupSeeds.length]!;
    placed += groups[e]!.length;
    if (seed < 70 && duplicateCommands + groups[e]!.length <= dupShare * placed) {
      const at = Math.min(groups.length - 1, e + (seed % 7));
      const list = later.get(at) ?? [];
      if (at === e) order.push(e);
      else later.set(at, [...list, e]);
      duplicateCommands += groups[e]!.length;
    }
  }
  return { groups, order, duplicateCommands };
}

async function deliver(peer: CloudPeer, panelId: string, key: SigningKey, groups: CommandToSend[][], order: number[], lastSeq: number): Promise<void> {
  const sealKey = await peer.sealKey();
  const encoded = new Map<number, Buffer>();
  for (const e of order) {
    // a re-publication is the same envelope again (the broker gives it a new packet id)
    let bytes = encoded.get(e);
    if (!bytes) {
      const g = groups[e]!;
      bytes = g.length === 1 ? encodeCommand(panelId, g[0]!, { signingKey: key, agentPublicKey: sealKey }) : encodeBatch(panelId, `g${e}x`, g, { signingKey: key, agentPublicKey: sealKey });
      encoded.set(e, bytes);
    }
    await peer.publishRaw(bytes);
  }
  // one ack per envelope published, duplicates included
  await waitFor(() => peer.acks.length >= order.length && peer.state?.lastSeq === lastSeq, 180_000, 50);
}

export async function runModel(opts: { commands: number; runs: number; seed?: number; dupShare?: number }): Promise<{ commands: number; duplicates: number; equal: number; runs: number; details: string[] }> {
  const mosq = await new Mosquitto({ maxQueuedMessages: 100_000 }).start();
  const details: string[] = [];
  let commands = 0;
  let duplicates = 0;
  let equal = 0;
  let runs = 0;
  try {
    await fc.assert(
      fc.asyncProperty(streamArb(opts.commands), async (s) => {
        runs++;
        const { groups, order, duplicateCommands } = plan(s, opts.dupShare ?? 0.3);
        commands += s.ops.length;
        duplicates += duplicateCommands;
        const digests: string[] = [];
        for (const withDups of [true, false]) {
          const dir = tempDir("rel-model-");
          const key = generateSigningKey();
          const panelId = withDups ? "panel-dup" : "panel-clean";
          const peer = await new CloudPeer(mosq.url, panelId, key).connect();
          let agent: Agent | undefined;
          try {
            agent = await startAgent(agentConfig(dir, mosq.url, key, { panelId, broker: { url: mosq.url } }));
            await deliver(peer, panelId, key, groups, withDups ? order : groups.map((_, i) => i), s.ops.length);
            await sleep(100);
            const state = await waitFor(() => peer.state?.lastSeq === s.ops.length && peer.state, 10_000);
            digests.push(state ? `${state.digest}/${state.lastSeq}/${state.tableVersion}` : "no-state");
          } finally {
            await agent?.stop();
            await peer.close();
            removeTempDir(dir);
          }
        }
        if (digests[0] === digests[1]) equal++;
        else details.push(`model run: with duplicates ${digests[0]}, clean ${digests[1]}`);
        return digests[0] === digests[1];
      }),
      { numRuns: opts.runs, seed: opts.seed, endOnFailure: true },
    );
  } catch (err) {
    details.push(`model property failed: ${(err as Error).message.slice(0, 500)}`);
  } finally {
    await mosq.dispose();
  }
  return { commands, duplicates, equal, runs, details };
}

// ---------------------------------------------------------------------------------------------
// (b) broker restart mid-burst, (c) queue overflow -> gap -> resync -> snapshot

interface Rig {
  suite: SuiteRig;
  mosq: Mosquitto;
  agent: AgentProcess;
  peer: CloudPeer;
  book: AckBook;
  capture: MqttCapture;
  key: SigningKey;
  model: CloudModel;
  dir: string;
  seq: number;
  next: number;
  ids: string[];
  files: ReturnType<typeof writeAgentConfig>;
}

async function rig(maxQueuedMessages: number): Promise<Rig> {
  const suite = await SuiteRig.open({ name: "deliv", mosquitto: { persistence: true, maxQueuedMessages }, capture: true });
  try {
    await suite.peer.sealKey();
  } catch (err) {
    await suite.close();
    throw err;
  }
  const { mosq, agent, peer, key, dir, files } = suite;
  return { suite, mosq, agent, peer, book: new AckBook(peer), capture: suite.capture!, key, model: new CloudModel(), dir, seq: 0, next: 0, ids: [], files };
}

async function dispose(r: Rig | undefined): Promise<void> {
  await r?.suite.close();
}

const EXP = () => Date.now() + 24 * 3600_000;

function nextCommand(r: Rig, g: ReturnType<typeof rng>): CommandToSend {
  const id = `d${++r.next}x`;
  r.ids.push(id);
  const slot = g.int(1, 25);
  const command = !r.model.code.has(slot) || g.chance(0.5) ? r.model.setCode(id, slot, r.model.freshCode(g.next)) : r.model.setLabel(id, slot, randomLabel(g.next));
  return { seq: ++r.seq, expiresAt: EXP(), command };
}

/** Publishes without waiting for the broker (mqtt.js queues while it reconnects). */
function publishNoWait(r: Rig, item: CommandToSend, sealKey: Uint8Array, sent: Map<string, Buffer>): void {
  const bytes = encodeCommand(PANEL_ID, item, { signingKey: r.key, agentPublicKey: sealKey });
  sent.set(item.command.id, bytes);
  r.peer.client.publish(r.peer.topics.cmd, bytes, { qos: 1 });
}

async function retryUntilAcked(r: Rig, sent: Map<string, Buffer>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    r.book.sync();
    const missing = [...sent.keys()].filter((id) => !r.book.byId.has(id));
    if (missing.length === 0 || Date.now() > deadline) return missing.length;
    for (const id of missing) {
      await r.peer.publishRaw(sent.get(id)!);
    }
    await waitFor(() => (r.book.sync(), missing.every((id) => r.book.byId.has(id))), 3000, 50);
  }
}

export async function runBrokerRestart(seed = 1): Promise<{ commands: number; lost: number; duplicated: number; queuedSurvived: number; integrity: number; crashes: number; secretHits: number; details: string[] }> {
  const g = rng(seed);
  let r: Rig | undefined;
  const details: string[] = [];
  try {
    r = await rig(100_000);
    const sealKey = await r.peer.sealKey();
    const sent = new Map<string, Buffer>();
    // 1. agent online; the broker restarts in the middle of a burst
    for (let i = 0; i < 60; i++) {
      publishNoWait(r, nextCommand(r, g), sealKey, sent);
      if (i === 30) await r.mosq.restart();
      if (i % 10 === 0) await sleep(5);
    }
    // 2. agent offline: commands queue in its persistent session; the broker restarts mid-burst
    await waitFor(() => r!.agent.alive && r!.peer.client.connected, 10_000);
    await retryUntilAcked(r, sent, 30_000);
    await r.agent.kill();
    const queued = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const item = nextCommand(r, g);
      queued.add(item.command.id);
      const bytes = encodeCommand(PANEL_ID, item, { signingKey: r.key, agentPublicKey: sealKey });
      sent.set(item.command.id, bytes);
      await r.peer.publishRaw(bytes); // the broker has it (PUBACK) before we go on
      if (i === 40) {
        await sleep(1200); // let autosave write the queue
        await r.mosq.restart();
        await waitFor(() => r!.peer.client.connected, 10_000);
      }
    }
    await sleep(1200);
    await r.mosq.restart(); // once more, with the whole queue pending
    await waitFor(() => r!.peer.client.connected, 10_000);
    await r.agent.start();
    // the persistent session delivers the queue without any retry from the cloud
    await waitFor(() => (r!.book.sync(), [...queued].every((id) => r!.book.byId.has(id))), 15_000, 50);
    r.book.sync();
    const queuedSurvived = [...queued].filter((id) => r!.book.byId.has(id)).length;
    if (queuedSurvived < queued.size) details.push(`broker restart: ${queued.size - queuedSurvived} of ${queued.size} queued commands not delivered from the session (the cloud's retry covers them)`);
    const unacked = await retryUntilAcked(r, sent, 30_000);
    await sleep(200);
    await r.agent.kill();
    const db = inspectDb(r.files.stateDir);
    const t = checkTable(r.model, db, r.ids);
    const idx = checkIndex(r.files.stateDir, r.model);
    details.push(...t.details, ...idx.details);
    const secrets = secretHits(r.model.usedCodes, [...logSource(r.files), ...stateFiles(r.files.stateDir), { name: "action_log", bytes: Buffer.from(db.actionLogText) }, ...captureSources(r.capture)]);
    details.push(...secrets.where);
    return {
      commands: r.ids.length,
      lost: t.missing + t.short + unacked + t.mismatches + idx.mismatches,
      duplicated: t.duplicated,
      queuedSurvived,
      integrity: db.integrity === "ok" ? 0 : 1,
      crashes: r.agent.crashes.length,
      secretHits: secrets.hits,
      details,
    };
  } finally {
    await dispose(r);
  }
}

export async function runOverflow(seed = 2, queueMax = 50, publish = 200): Promise<{ published: number; dropped: number; resyncRequests: number; converged: boolean; integrity: number; crashes: number; secretHits: number; details: string[] }> {
  const g = rng(seed);
  let r: Rig | undefined;
  const details: string[] = [];
  try {
    r = await rig(queueMax);
    const sealKey = await r.peer.sealKey();
    const sendOne = async (item: CommandToSend) => r!.peer.publishRaw(encodeCommand(PANEL_ID, item, { signingKey: r!.key, agentPublicKey: sealKey }));
    // a few commands while online
    for (let i = 0; i < 10; i++) await sendOne(nextCommand(r, g));
    await waitFor(() => (r!.book.sync(), r!.book.byId.has(`d${r!.next}x`)), 10_000);
    await r.agent.kill();
    // offline: more than the broker keeps
    for (let i = 0; i < publish; i++) await sendOne(nextCommand(r, g));
    await r.agent.start();
    await sleep(1500); // what the broker kept is delivered
    // the next command reveals the gap
    const probe = nextCommand(r, g);
    await sendOne(probe);
    const resync = await waitFor(() => (r!.book.sync(), r!.book.events.find((e) => e.type === "resync_request")), 10_000);
    const probeAck = r.book.first(probe.command.id);
    if (!probeAck || probeAck.ok || probeAck.error.code !== "sequence_gap") details.push(`overflow: the command after the gap was answered ${JSON.stringify(probeAck)}`);
    const lastSeqAgent = resync ? Number((resync.data as { lastSeq: number }).lastSeq) : -1;
    const dropped = r.seq - 1 - lastSeqAgent;
    // the cloud answers with a snapshot of its model, at a seq above anything it sent
    const users = [...r.model.code].map(([slot, code]) => ({ slot, code: new Secret(code), label: r!.model.label.get(slot) ?? `User ${slot}` }));
    const snapId = `snap${++r.next}x`;
    await sendOne({ seq: ++r.seq, expiresAt: EXP(), command: { id: snapId, actor: cloudActor, kind: "snapshot", users } });
    const snapAck = await waitFor(() => r!.book.first(snapId), 10_000);
    if (!snapAck?.ok) details.push(`overflow: snapshot answered ${JSON.stringify(snapAck)}`);
    // the stream resumes after the snapshot
    const after: string[] = [];
    for (let i = 0; i < 5; i++) {
      const item = nextCommand(r, g);
      after.push(item.command.id);
      await sendOne(item);
    }
    await waitFor(() => after.every((id) => r!.book.byId.has(id)), 10_000);
    const afterOk = after.every((id) => r!.book.first(id)?.ok === true);
    if (!afterOk) details.push(`overflow: commands after the snapshot: ${JSON.stringify(after.map((id) => r!.book.first(id)))}`);
    await sleep(200);
    await r.agent.kill();
    const db = inspectDb(r.files.stateDir);
    // convergence: labels and codes as the cloud's model says (versions follow the agent's own history)
    let diff = 0;
    const withCode = [...db.slots.values()].filter((s) => s.codeSet).length;
    if (withCode !== r.model.code.size) diff++;
    for (const [slot, code] of r.model.code) {
      const s = db.slots.get(slot);
      if (!s || !s.codeSet || s.label !== (r.model.label.get(slot) ?? `User ${slot}`)) {
        diff++;
        details.push(`overflow: slot ${slot} ${JSON.stringify(s && { label: s.label, codeSet: s.codeSet })} (model code ${code.length} digits)`);
      }
    }
    const idx = checkIndex(r.files.stateDir, r.model);
    details.push(...idx.details);
    const secrets = secretHits(r.model.usedCodes, [...logSource(r.files), ...stateFiles(r.files.stateDir), { name: "action_log", bytes: Buffer.from(db.actionLogText) }, ...captureSources(r.capture)]);
    details.push(...secrets.where);
    return {
      published: publish,
      dropped,
      resyncRequests: r.book.events.filter((e) => e.type === "resync_request").length,
      converged: diff === 0 && idx.mismatches === 0 && snapAck?.ok === true && afterOk && resync !== undefined,
      integrity: db.integrity === "ok" ? 0 : 1,
      crashes: r.agent.crashes.length,
      secretHits: secrets.hits,
      details,
    };
  } finally {
    await dispose(r);
  }
}

export async function runDelivery(opts: { modelCommands: number; modelRuns: number; seed?: number }): Promise<DeliveryFigures> {
  const m = await runModel({ commands: opts.modelCommands, runs: opts.modelRuns, seed: opts.seed });
  const b = await runBrokerRestart(opts.seed ?? 1);
  const c = await runOverflow((opts.seed ?? 1) + 1);
  return {
    model_commands: m.commands,
    model_duplicates: m.duplicates,
    model_digest_equal: m.equal === m.runs ? 1 : 0,
    restart_commands: b.commands,
    restart_lost: b.lost,
    restart_duplicated: b.duplicated,
    restart_queued_survived: b.queuedSurvived,
    overflow_published: c.published,
    overflow_dropped: c.dropped,
    overflow_resync_requests: c.resyncRequests,
    overflow_converged: c.converged ? 1 : 0,
    integrity_failures: b.integrity + c.integrity,
    crashes: b.crashes + c.crashes,
    secret_hits: b.secretHits + c.secretHits,
    details: [...m.details, ...b.details, ...c.details],
  };
}
