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
import { acceptsConnection, freePort } from "./mosquitto.js";
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

/** The part of the monitoring endpoint's /jsz answer the health checks read. */
interface JszReply {
  meta_cluster?: { leader?: string };
  account_details?: { stream_detail?: { name: string; cluster?: { leader?: string }; consumer_detail?: { name: string; cluster?: { leader?: string } }[] }[] }[];
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

  /**
   * Starts every node on fresh ports. A port freePort() handed out can be taken by another suite's
   * process before nats-server binds it (seen in CI: a node exited at start and the cloud's connect
   * was refused), so a node that exits while the cluster comes up restarts the whole cluster on new
   * ports, up to three times, instead of the cluster being declared ready without it.
   */
  async start(): Promise<this> {
    for (let attempt = 1; ; attempt++) {
      this.#nodes.length = 0;
      for (let i = 0; i < this.#size; i++) {
        this.#nodes.push({ name: `n${i + 1}`, client: await freePort(), cluster: await freePort(), mqtt: await freePort(), monitor: await freePort(), log: "" });
      }
      for (let i = 0; i < this.#size; i++) this.#write(i);
      for (let i = 0; i < this.#size; i++) this.#spawn(i);
      try {
        await this.ready();
        return this;
      } catch (err) {
        const died = this.#nodes.findIndex((n) => n.proc?.exitCode != null);
        for (let i = 0; i < this.#size; i++) await this.stop(i, "SIGKILL");
        if (died < 0 || attempt === 3) throw new Error(`${(err as Error).message}${died >= 0 ? `; node ${this.#nodes[died]!.name} exited: ${this.#nodes[died]!.log.slice(-800)}` : ""}`);
        for (const n of this.#nodes) rmSync(join(this.dir, n.name), { recursive: true, force: true });
      }
    }
  }

  /**
   * Every node that should run answers its health check with JetStream up (a meta leader is
   * elected) and accepts connections on its MQTT port. A node that should run but exited fails at
   * once, with its log: a cluster short of a node is not ready.
   */
  async ready(timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      for (const n of this.#nodes) {
        if (!n.proc) continue;
        if (n.proc.exitCode !== null) throw new Error(`NATS node ${n.name} exited (${n.proc.exitCode}) while starting: ${n.log.slice(-800)}`);
        const ok = await fetch(`http://127.0.0.1:${n.monitor}/healthz?js-enabled-only=true`).then((r) => r.ok, () => false);
        if (!ok) return false;
        const jsz = await fetch(`http://127.0.0.1:${n.monitor}/jsz`).then((r) => r.json() as Promise<JszReply>, (): JszReply => ({}));
        if (!jsz.meta_cluster?.leader) return false;
        if (!(await acceptsConnection(n.mqtt))) return false;
      }
      return true;
    }, timeoutMs, "the NATS cluster to elect a JetStream meta leader and listen for MQTT", 100);
  }

  /** Stops node i (SIGTERM: a clean shutdown; SIGKILL: the process dies, as on a crash) and waits for it to exit. */
  /**
   * Node i is down and the others have noticed: as every running node sees it, the meta group,
   * every stream and every consumer has a leader, and none is node i. (Right after a kill the
   * survivors still name the dead node as leader until their election timeout: /healthz alone
   * answers ok then.) Until then a QoS 1 publish times out after 4 s and nats-server closes the
   * publisher's connection (server/mqtt.go mqttProcessPub).
   */
  async leadersOff(i: number, timeoutMs = 60_000): Promise<void> {
    const dead = this.#nodes[i]!.name;
    let last = "";
    await waitFor(async () => {
      for (const n of this.#nodes) {
        if (!n.proc || n.proc.exitCode !== null) continue;
        const jsz = await fetch(`http://127.0.0.1:${n.monitor}/jsz?accounts=true&streams=true&consumers=true`).then((r) => r.json() as Promise<JszReply>, (): JszReply => ({}));
        const leader = jsz.meta_cluster?.leader;
        if (!leader || leader === dead) return ((last = `${n.name}: meta leader ${leader ?? "none"}`), false);
        for (const a of jsz.account_details ?? []) {
          for (const st of a.stream_detail ?? []) {
            const sl = st.cluster?.leader;
            if (!sl || sl === dead) return ((last = `${n.name}: stream ${st.name} leader ${sl ?? "none"}`), false);
            for (const c of st.consumer_detail ?? []) {
              const cl = c.cluster?.leader;
              if (!cl || cl === dead) return ((last = `${n.name}: consumer ${st.name} > ${c.name} leader ${cl ?? "none"}`), false);
            }
          }
        }
      }
      return true;
    }, timeoutMs, `leaders off NATS node ${dead} (last seen: ${last})`, 200);
  }

  async stop(i: number, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const p = this.#nodes[i]!.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill(signal);
    });
    this.#nodes[i]!.proc = undefined;
  }

  /** Whether node i is running. */
  running(i: number): boolean {
    const p = this.#nodes[i]!.proc;
    return p !== undefined && p.exitCode === null;
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
      // Three replicas of the MQTT streams (sessions, QoS 1 messages, retained messages) and of their
      // consumers. Left to itself, 2.9 picks as many replicas as a node has routes (two here, see
      // mqttDetermineReplicas in server/mqtt.go): an R2 stream needs both of its peers for a quorum,
      // so with either of them stopped, QoS 1 publishes stall for every panel, not only the stopped
      // node's. R3 keeps a quorum (two of three) with any one node down.
      `mqtt { listen: 127.0.0.1:${n.mqtt}, stream_replicas: ${Math.min(3, this.#size)}, consumer_replicas: ${Math.min(3, this.#size)} }`,
    ];
    writeFileSync(join(this.dir, `${n.name}.conf`), conf.join("\n") + "\n");
  }

  #spawn(i: number): void {
    const n = this.#nodes[i]!;
    const p = spawn(NATS_BIN!, ["-c", join(this.dir, `${n.name}.conf`)], { stdio: ["ignore", "ignore", "pipe"] });
    p.stderr?.on("data", (d: Buffer) => {
      n.log = (n.log + d.toString()).slice(-200_000);
    });
    n.proc = p;
  }
}
