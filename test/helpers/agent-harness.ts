import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Socket } from "node:net";
import { join } from "node:path";
import { pino } from "pino";
import {
  decodeAck, decodeEvent, decodeState, encodeBatch, encodeCommand, generateSigningKey, panelTopics,
  type AnyAck, type CommandToSend, type SigningKey, type State, type WireEvent,
} from "../../protocol/index.js";
import { Agent } from "../../src/agent.js";
import { parseConfig, type AgentConfig } from "../../src/config.js";

export const silentLogger = pino({ level: "silent" });

/** A cloud-side test peer speaking the protocol directly (no client library): publish, collect acks and events. */
export class CloudPeer {
  readonly signingKey: SigningKey;
  readonly acks: AnyAck[] = [];
  readonly events: WireEvent[] = [];
  readonly raw: { topic: string; payload: Buffer }[] = [];
  state: State | undefined;
  client!: MqttClient;
  #waiters: (() => void)[] = [];

  constructor(readonly url: string, readonly panelId: string, signingKey = generateSigningKey()) {
    this.signingKey = signingKey;
  }

  get topics() {
    return panelTopics(this.panelId);
  }

  async connect(options: IClientOptions = {}): Promise<this> {
    this.client = await mqtt.connectAsync(this.url, { clientId: `cloud-${Math.random().toString(36).slice(2)}`, clean: true, reconnectPeriod: 200, ...options });
    (this.client.stream as unknown as Socket).setNoDelay?.(true);
    this.client.on("message", (topic, payload) => {
      this.raw.push({ topic, payload });
      if (topic === this.topics.ack) {
        const d = decodeAck(payload);
        if (d.ok) this.acks.push(d.value);
      } else if (topic === this.topics.evt) {
        const d = decodeEvent(payload);
        if (d.ok) this.events.push(d.value);
      } else if (topic === this.topics.state) {
        const d = decodeState(payload);
        if (d.ok) this.state = d.value;
      }
      for (const w of this.#waiters.splice(0)) w();
    });
    await this.client.subscribeAsync([this.topics.ack, this.topics.evt, this.topics.state, this.topics.status], { qos: 1 });
    return this;
  }

  async until<T>(probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) throw new Error("timed out waiting");
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async sealKey(): Promise<Uint8Array> {
    return (await this.until(() => this.state)).sealKey;
  }

  async send(item: CommandToSend): Promise<void> {
    const bytes = encodeCommand(this.panelId, item, { signingKey: this.signingKey, agentPublicKey: await this.sealKey() });
    await this.client.publishAsync(this.topics.cmd, bytes, { qos: 1 });
  }

  async sendBatch(batchId: string, items: CommandToSend[]): Promise<void> {
    const bytes = encodeBatch(this.panelId, batchId, items, { signingKey: this.signingKey, agentPublicKey: await this.sealKey() });
    await this.client.publishAsync(this.topics.cmd, bytes, { qos: 1 });
  }

  async publishRaw(bytes: Uint8Array): Promise<void> {
    await this.client.publishAsync(this.topics.cmd, Buffer.from(bytes), { qos: 1 });
  }

  /** The outcome for a command id, from single acks and batch acks. */
  outcome(id: string) {
    for (const a of this.acks) {
      if (a.t === "ack" && a.ack.id === id) return a.ack;
      if (a.t === "batch_ack") for (const o of a.acks) if (o.id === id) return o;
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

export function agentConfig(dir: string, url: string, trusted: SigningKey, extra: Partial<Record<keyof AgentConfig, unknown>> = {}): AgentConfig {
  return parseConfig({
    panelId: "panel-1",
    panelType: "DSC",
    codeLength: 4,
    timeZone: "Europe/Berlin",
    doorLocks: ["front"],
    stateDir: join(dir, "state"),
    keypadSocket: join(dir, "keypad.sock"),
    broker: { url },
    trustedCloudKeys: [trusted.publicRaw.toString("hex")],
    ...extra,
  });
}

export async function startAgent(config: AgentConfig): Promise<Agent> {
  const agent = new Agent(config, { logger: silentLogger });
  await agent.start();
  return agent;
}
