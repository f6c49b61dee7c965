/**
 * The reliability suites' one setup and teardown: a real mosquitto, a temporary state directory,
 * a cloud signing key, the agent's config and process, a cloud peer, and on request a PUBACK tap
 * in front of the broker (the agent connects through it) and a capture of everything the broker
 * carries. `close()` takes it all down in reverse order, each part whatever the others did.
 */
import { generateSigningKey, type SigningKey } from "../../protocol/index.js";
import { CloudPeer } from "../helpers/agent-harness.js";
import { Mosquitto, type MosquittoOptions } from "../helpers/mosquitto.js";
import { AgentProcess, MqttCapture, PANEL_ID, PubackTap, removeTempDir, tempDir, writeAgentConfig, type AgentFiles } from "./harness.js";

export interface SuiteRigOptions {
  /** Temporary directory prefix (names the suite in /tmp). */
  name: string;
  mosquitto?: MosquittoOptions;
  key?: SigningKey;
  /** Extra agent configuration (lockout, ...). */
  config?: Record<string, unknown>;
  nodeOptions?: string;
  /** The agent connects through a PUBACK tap (the crash suite kills it between a commit and its PUBACK). */
  tap?: boolean;
  capture?: boolean;
  /** Start the agent before the peer connects (default true). */
  startAgent?: boolean;
}

export class SuiteRig {
  readonly #closers: (() => Promise<unknown> | void)[] = [];
  mosq!: Mosquitto;
  dir!: string;
  key!: SigningKey;
  files!: AgentFiles;
  agent!: AgentProcess;
  peer!: CloudPeer;
  tap: PubackTap | undefined;
  capture: MqttCapture | undefined;

  static async open(opts: SuiteRigOptions): Promise<SuiteRig> {
    const rig = new SuiteRig();
    try {
      await rig.#open(opts);
      return rig;
    } catch (err) {
      await rig.close();
      throw err;
    }
  }

  async #open(opts: SuiteRigOptions): Promise<void> {
    this.mosq = await new Mosquitto(opts.mosquitto).start();
    this.#closers.push(() => this.mosq.dispose());
    this.dir = tempDir(`rel-${opts.name}-`);
    this.#closers.push(() => removeTempDir(this.dir));
    if (opts.tap) {
      const tap = await new PubackTap(this.mosq.port).start();
      this.tap = tap;
      this.#closers.push(() => tap.close());
    }
    if (opts.capture) {
      const capture = await new MqttCapture(this.mosq.url).connect();
      this.capture = capture;
      this.#closers.push(() => capture.close());
    }
    this.key = opts.key ?? generateSigningKey();
    this.files = writeAgentConfig(this.dir, this.tap?.url ?? this.mosq.url, this.key.publicRaw.toString("hex"), opts.config);
    const agent = new AgentProcess(this.files, opts.nodeOptions ? { nodeOptions: opts.nodeOptions } : {});
    this.agent = agent;
    this.#closers.push(() => agent.close());
    if (opts.startAgent ?? true) await agent.start();
    const peer = await new CloudPeer(this.mosq.url, PANEL_ID, this.key).connect();
    this.peer = peer;
    this.#closers.push(() => peer.close());
  }

  /** Takes down what was set up, newest first; a part that fails to close does not stop the others. */
  async close(): Promise<void> {
    while (this.#closers.length > 0) {
      const close = this.#closers.pop()!;
      try {
        await close();
      } catch {
        // best effort: the process exit hook kills any child left
      }
    }
  }
}
