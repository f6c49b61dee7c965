/**
 * Crash suite: a real mosquitto (persistence on), the agent as a child process behind a PUBACK
 * tap, bursts of signed commands (singles and batches; set_code / set_label, each with its own id
 * and seq) and keypad entries, while the agent is SIGKILLed at random moments (also during its
 * start). After every restart the cloud re-publishes each envelope that still has an unacked
 * command (same ids and seqs: the cloud's retry). At the end: nothing acked is lost, nothing is
 * applied twice, the database is intact, the index equals the table, every access event reached
 * the cloud in order, and no code appears anywhere.
 */
import { decodeCbor, encodeBatch, encodeCommand, type CommandToSend, type WireCommandInput } from "../../protocol/index.js";
import { AckBook, inspectDb, keypadEntry, logSource, MqttCapture, PANEL_ID, rng, secretHits, sleep, stateFiles, waitFor } from "./harness.js";
import { SuiteRig } from "./rig.js";
import { checkIndex, checkTable, CloudModel, randomLabel } from "./verify.js";

export interface CrashOptions {
  kills: number;
  seed?: number;
  /** Wall-clock bound for the kill loop (the end phase adds at most ~2 min). */
  maxMs?: number;
  slots?: number;
  progress?: (line: string) => void;
}

export interface CrashFigures {
  kills: number;
  commands: number;
  acked: number;
  pubacked: number;
  lost: number;
  unacked_at_end: number;
  /** Commands of the run with no applied record at the end (never delivered despite retries). */
  unapplied: number;
  duplicated: number;
  table_mismatches: number;
  index_mismatches: number;
  integrity_failures: number;
  crashes: number;
  events_caused: number;
  events_lost: number;
  events_out_of_order: number;
  secret_hits: number;
  duration_ms: number;
  details: string[];
}

const MASTER_CODE = "7391";

interface Envelope {
  ids: string[];
  bytes: Buffer;
}

export async function runCrash(opts: CrashOptions): Promise<CrashFigures> {
  const started = Date.now();
  const seed = opts.seed ?? Date.now() % 1_000_000;
  const r = rng(seed);
  const slots = opts.slots ?? 30;
  const maxMs = opts.maxMs ?? 10 * 60_000;
  const log = opts.progress ?? (() => {});
  const details: string[] = [`seed ${seed}`];

  const rig = await SuiteRig.open({
    name: "crash",
    mosquitto: { persistence: true, maxQueuedMessages: 100_000 },
    tap: true,
    capture: true,
    config: { lockout: { maxAttempts: 100, panelMaxAttempts: 1000 } },
    startAgent: false,
  });
  try {
    const { agent, peer, key, files } = rig;
    const tap = rig.tap!;
    const capture = rig.capture!;
    const book = new AckBook(peer);
    const model = new CloudModel();
    model.usedCodes.add(MASTER_CODE);

    let seq = 0;
    let nextId = 0;
    const allIds: string[] = [];
    let pending: Envelope[] = [];
    const exp = Date.now() + 24 * 3600_000;
    const caused = new Set<string>();
    let kpN = 0;
    let integrityFailures = 0;

    await agent.start();
    const sealKey = await peer.sealKey();
    const send = async (items: CommandToSend[]) => {
      const bytes =
        items.length === 1 && r.chance(0.6)
          ? encodeCommand(PANEL_ID, items[0]!, { signingKey: key, agentPublicKey: sealKey })
          : encodeBatch(PANEL_ID, `b${++nextId}x`, items, { signingKey: key, agentPublicKey: sealKey });
      const env = { ids: items.map((i) => i.command.id), bytes };
      pending.push(env);
      await peer.publishRaw(bytes);
    };
    const newCommand = (): CommandToSend => {
      const id = `c${++nextId}x`;
      allIds.push(id);
      const slot = r.int(2, slots);
      const command: WireCommandInput = !model.code.has(slot) || r.chance(0.5) ? model.setCode(id, slot, model.freshCode(r.next)) : model.setLabel(id, slot, randomLabel(r.next));
      return { seq: ++seq, expiresAt: exp, command };
    };

    // seq 1: the Master code, never changed afterwards (keypad entries use it)
    {
      const id = `c${++nextId}x`;
      allIds.push(id);
      await send([{ seq: ++seq, expiresAt: exp, command: model.setCode(id, 1, MASTER_CODE) }]);
    }

    const entries: Promise<void>[] = [];
    const keypad = () => {
      const kp = `k${++kpN}x`;
      entries.push(
        keypadEntry(files.socket, kp, MASTER_CODE, "arm_away", 5000).then((line) => {
          if (line && /granted|denied|locked/i.test(line)) caused.add(kp);
        }),
      );
    };
    const burst = async (messages: number) => {
      for (let i = 0; i < messages; i++) {
        const n = r.chance(0.3) ? r.int(2, 12) : 1;
        await send(Array.from({ length: n }, newCommand));
        if (r.chance(0.3)) keypad();
      }
    };
    const retryUnacked = async () => {
      book.sync();
      pending = pending.filter((e) => e.ids.some((id) => !book.byId.has(id)));
      for (const e of [...pending]) await peer.publishRaw(e.bytes);
    };
    const checkIntegrityNow = () => {
      try {
        const rep = inspectDb(files.stateDir);
        if (rep.integrity !== "ok") {
          integrityFailures++;
          details.push(`integrity after kill: ${rep.integrity}`);
        }
      } catch (err) {
        integrityFailures++;
        details.push(`db unreadable after kill: ${(err as Error).message}`);
      }
    };

    let kills = 0;
    while (kills < opts.kills && Date.now() - started < maxMs) {
      if (!agent.alive) {
        if (r.chance(0.12)) {
          // kill during start-up (opening the DB, connecting), while commands keep coming
          await agent.start(false);
          const killP = sleep(r.int(0, 2500)).then(() => agent.kill());
          await Promise.all([killP, burst(r.int(0, 10))]);
          kills++;
          checkIntegrityNow();
          continue;
        }
        await agent.start();
      }
      await retryUnacked();
      const killP = sleep(r.int(0, 300)).then(() => agent.kill());
      await Promise.all([killP, burst(r.int(5, 40))]);
      await Promise.all(entries.splice(0));
      kills++;
      checkIntegrityNow();
      if (kills % 10 === 0 || kills === opts.kills) {
        book.sync();
        log(`crash: ${kills}/${opts.kills} kills, ${allIds.length} commands, ${book.byId.size} acked, ${tap.pubacked.size} pubacked, ${Math.round((Date.now() - started) / 1000)} s`);
      }
    }

    // end phase: start once more, retry until every command is acked, let the events drain
    if (!agent.alive) await agent.start();
    await burst(5);
    for (let i = 0; i < 20; i++) {
      await retryUnacked();
      if (pending.length === 0) break;
      await waitFor(() => (book.sync(), pending.every((e) => e.ids.every((id) => book.byId.has(id)))), 3000, 50);
    }
    await Promise.all(entries.splice(0));
    const accessSeen = () => {
      book.sync();
      const seen = new Set<string>();
      for (const e of book.events) if (e.type === "access") seen.add((e.data as { point: { id: string } }).point.id);
      return seen;
    };
    await waitFor(() => [...caused].every((k) => accessSeen().has(k)), 20_000, 100);
    await sleep(300);
    await agent.kill(); // the final stop is a crash too
    book.sync();

    const db = inspectDb(files.stateDir);
    if (db.integrity !== "ok") {
      integrityFailures++;
      details.push(`final integrity: ${db.integrity}`);
    }
    const table = checkTable(model, db, allIds);
    details.push(...table.details);
    // lost = acked (to the cloud, or PUBACKed to the broker) but not applied
    let lost = 0;
    const ackedOrPubacked = new Set<string>([...book.byId.keys(), ...tap.pubacked]);
    for (const id of ackedOrPubacked) {
      if (!id.startsWith("c")) continue;
      const a = db.applied.get(id);
      if (!a || a.status !== "applied") {
        lost++;
        if (details.length < 60) details.push(`lost ${id}: acked=${book.byId.has(id)} pubacked=${tap.pubacked.has(id)} applied=${a?.status}`);
      }
    }
    let unexpectedRejections = 0;
    for (const [id, outs] of book.byId) {
      if (outs.some((o) => !o.ok)) {
        unexpectedRejections++;
        if (details.length < 60) details.push(`rejected ${id}: ${JSON.stringify(outs.find((o) => !o.ok))}`);
      }
    }
    const unackedAtEnd = allIds.filter((id) => !book.byId.has(id)).length;
    const idx = checkIndex(files.stateDir, model);
    details.push(...idx.details);
    const seen = accessSeen();
    const eventsLost = [...caused].filter((k) => !seen.has(k)).length;
    const order = book.eventOrder();

    const sources = [...logSource(files), ...stateFiles(files.stateDir), { name: "action_log", bytes: Buffer.from(db.actionLogText) }, ...captureSources(capture)];
    const secrets = secretHits(model.usedCodes, sources);
    details.push(...secrets.where);

    return {
      kills,
      commands: allIds.length,
      acked: [...book.byId.keys()].filter((id) => id.startsWith("c")).length,
      pubacked: tap.pubacked.size,
      lost: lost + table.short,
      unapplied: table.missing,
      unacked_at_end: unackedAtEnd,
      duplicated: table.duplicated,
      table_mismatches: table.mismatches + unexpectedRejections,
      index_mismatches: idx.mismatches,
      integrity_failures: integrityFailures,
      crashes: agent.crashes.length,
      events_caused: caused.size,
      events_lost: eventsLost,
      events_out_of_order: order.outOfOrder,
      secret_hits: secrets.hits,
      duration_ms: Date.now() - started,
      details,
    };
  } finally {
    await rig.close();
  }
}

/**
 * What the broker carried, as text to scan for codes: each payload's CBOR decoded, with every text
 * string in it (byte strings holding CBOR, like a command envelope's signed body, decoded in turn).
 * Scanning the raw bytes counted binary framing as codes: a timestamp whose low bytes read "1604",
 * a hex digest ending in "d4391" (0x64 is also the head of a 4-character CBOR text).
 */
export function captureSources(capture: MqttCapture | undefined): { name: string; bytes: Buffer; text: true }[] {
  if (!capture) return [];
  const parts: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === "string") parts.push(v);
    else if (v instanceof Uint8Array) {
      const inner = depth < 4 ? decodeCbor(v) : undefined;
      if (inner?.ok) walk(inner.value, depth + 1);
    } else if (Array.isArray(v)) for (const x of v) walk(x, depth);
    else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        parts.push(k);
        walk(x, depth);
      }
    }
  };
  for (const p of capture.payloads) {
    parts.push(p.topic);
    const decoded = decodeCbor(p.payload);
    // not CBOR (no protocol message): scanned as it is
    if (decoded.ok) walk(decoded.value, 0);
    else parts.push(p.payload.toString("latin1"));
  }
  return [{ name: "mqtt-capture", bytes: Buffer.from(parts.join("\n"), "latin1"), text: true }];
}
