/**
 * A NATS cluster of real Debian `nats-server` 2.9 processes on loopback: JetStream on (its MQTT
 * listener needs it: sessions and QoS 1 messages live in replicated streams), one MQTT listener per
 * node, full-mesh routes. `stop(i)`/`start(i)` take one node down and back, keeping its store.
 * NATS 2.9 has no `$share` subscriptions: every subscriber of a filter gets every message.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./mosquitto.js";
import { waitFor } from "./wait.js";

export const NATS_BIN = ["/usr/bin/nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"].find((p) => existsSync(p));

interface Node {
  name: string;
  client: number;
  cluster: number;
  mqtt: number;
  monitor: number;
  proc?: ChildProcess;
  log: string;
}

/** The part of the monitoring endpoint's /jsz answer the health check reads. */
interface JszReply {
  meta_cluster?: { leader?: string };
}

export class NatsCluster {
  readonly dir: string;
  readonly #nodes: Node[] = [];
  readonly #size: number;

  constructor(size = 3) {
    if (!NATS_BIN) throw new Error("nats-server is not installed (apt-get install nats-server); .ci/run installs it");
    this.#size = size;
    this.dir = mkdtempSync(join(tmpdir(), "nats-"));
  }

  /** The MQTT URL of node i (panels and workers connect to different nodes). */
  mqttUrl(i: number): string {
    return `mqtt://127.0.0.1:${this.#nodes[i]!.mqtt}`;
  }

  get size(): number {
    return this.#size;
  }

  async start(): Promise<this> {
    for (let i = 0; i < this.#size; i++) {
      this.#nodes.push({ name: `n${i + 1}`, client: await freePort(), cluster: await freePort(), mqtt: await freePort(), monitor: await freePort(), log: "" });
    }
    for (let i = 0; i < this.#size; i++) this.#write(i);
    for (let i = 0; i < this.#size; i++) this.#spawn(i);
    await this.ready();
    return this;
  }

  /** Every running node answers its health check with JetStream up (a meta leader is elected). */
  async ready(timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      for (const n of this.#nodes) {
        if (!n.proc || n.proc.exitCode !== null) continue;
        const ok = await fetch(`http://127.0.0.1:${n.monitor}/healthz?js-enabled-only=true`).then((r) => r.ok, () => false);
        if (!ok) return false;
        const jsz = await fetch(`http://127.0.0.1:${n.monitor}/jsz`).then((r) => r.json() as Promise<JszReply>, (): JszReply => ({}));
        if (!jsz.meta_cluster?.leader) return false;
      }
      return true;
    }, timeoutMs, "the NATS cluster to elect a JetStream meta leader", 100);
  }

  async stop(i: number): Promise<void> {
    const p = this.#nodes[i]!.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGTERM");
    });
    this.#nodes[i]!.proc = undefined;
  }

  async startNode(i: number): Promise<void> {
    this.#spawn(i);
    await this.ready();
  }

  async dispose(): Promise<void> {
    for (let i = 0; i < this.#nodes.length; i++) await this.stop(i);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** What node i wrote to stderr (for a failing test's message). */
  log(i: number): string {
    return this.#nodes[i]!.log;
  }

  #write(i: number): void {
    const n = this.#nodes[i]!;
    const routes = this.#nodes.filter((_, j) => j !== i).map((o) => `nats-route://127.0.0.1:${o.cluster}`);
    const conf = [
      `server_name: ${n.name}`,
      `listen: 127.0.0.1:${n.client}`,
      `http: 127.0.0.1:${n.monitor}`,
      `jetstream { store_dir: "${join(this.dir, n.name)}" }`,
      `cluster { name: panels, listen: 127.0.0.1:${n.cluster}, routes: [${routes.join(", ")}] }`,
      `mqtt { listen: 127.0.0.1:${n.mqtt} }`,
    ];
    writeFileSync(join(this.dir, `${n.name}.conf`), conf.join("\n") + "\n");
  }

  #spawn(i: number): void {
    const n = this.#nodes[i]!;
    const p = spawn(NATS_BIN!, ["-c", join(this.dir, `${n.name}.conf`)], { stdio: ["ignore", "ignore", "pipe"] });
    p.stderr?.on("data", (d: Buffer) => {
      n.log = (n.log + d.toString()).slice(-20_000);
    });
    n.proc = p;
  }
}
