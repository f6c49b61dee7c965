import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import type { Socket } from "node:net";
import { pino } from "pino";
import type { SigningKey } from "../../protocol/index.js";
import { Agent } from "../../src/agent.js";
import { parseConfig, type AgentConfig } from "../../src/config.js";
import { startEmbeddedBroker } from "../../src/sync/embedded-broker.js";
import { Mosquitto } from "./mosquitto.js";

export type BrokerKind = "aedes" | "mosquitto";

export interface TestBroker {
  url: string;
  close(): Promise<void>;
}

export async function startBroker(kind: BrokerKind): Promise<TestBroker> {
  if (kind === "aedes") {
    const b = await startEmbeddedBroker();
    return { url: b.url, close: () => b.close() };
  }
  const m = await new Mosquitto().start();
  return { url: m.url, close: () => m.dispose() };
}

export function cloudAgentConfig(dir: string, url: string, panelId: string, trusted: SigningKey, extra: Record<string, unknown> = {}): AgentConfig {
  return parseConfig({
    panelId,
    panelType: "DSC",
    codeLength: 4,
    timeZone: "Europe/Berlin",
    stateDir: join(dir, "state"),
    keypadSocket: join(dir, "keypad.sock"),
    broker: { url, protocolVersion: 4 },
    trustedCloudKeys: [trusted.publicRaw.toString("hex")],
    logLevel: "fatal",
    ...extra,
  });
}

export async function runAgent(config: AgentConfig): Promise<Agent> {
  const agent = new Agent(config, { logger: pino({ level: "silent" }) });
  await agent.start();
  return agent;
}

/** A third party subscribed to `#`: every payload that crosses the broker, as the broker sees it. */
export class Sniffer {
  readonly captured: { topic: string; payload: Buffer }[] = [];
  client!: MqttClient;

  async start(url: string): Promise<this> {
    this.client = await mqtt.connectAsync(url, { clientId: `sniffer-${Math.random().toString(36).slice(2)}`, clean: true });
    (this.client.stream as unknown as Socket).setNoDelay?.(true);
    this.client.on("message", (topic, payload) => this.captured.push({ topic, payload: Buffer.from(payload) }));
    await this.client.subscribeAsync("#", { qos: 1 });
    return this;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

export { waitFor } from "./wait.js";
