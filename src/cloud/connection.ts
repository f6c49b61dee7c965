/**
 * The one MQTT connection of a cloud client: its options, the broker up/down signals (once per
 * outage), and the first connect's outcome as a CloudError. mqtt.js reconnects by itself; what a
 * reconnect means for commands in flight is the caller's (`reconnected`).
 */
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { failoverOptions } from "../broker-servers.js";
import { MQTT_LOG } from "../mqtt-log.js";
import { CloudError } from "./failures.js";
import type { TlsOptions } from "./types.js";

export interface ConnectionOptions {
  url: string;
  failoverUrls?: readonly string[] | undefined;
  protocolVersion: 4 | 5;
  clientId?: string | undefined;
  persistentSession?: boolean | undefined;
  username?: string | undefined;
  password?: string | undefined;
  tls?: TlsOptions | undefined;
  connectTimeoutMs: number;
}

export interface ConnectionEvents {
  /** Every (re)connect, first included, and whether the broker kept the session (its subscriptions). */
  connected(client: MqttClient, sessionPresent: boolean): void;
  /** A reconnect after the first connect. */
  reconnected(): void;
  /** The broker was lost (false, once per outage) or is back (true). */
  broker(up: boolean): void;
  message(topic: string, payload: Buffer): void;
  closed(): boolean;
}

/**
 * Starts connecting: the client at once (so the caller can hold it while it connects), and
 * `ready`, which rejects with CloudError `connection_failed` when the first connect fails (the
 * caller then ends the client).
 */
export function openConnection(o: ConnectionOptions, on: ConnectionEvents): { client: MqttClient; ready: Promise<void> } {
  const opts: IClientOptions = {
    clientId: o.clientId ?? `cloud-${randomUUID()}`,
    clean: !o.persistentSession,
    protocolVersion: o.protocolVersion,
    keepalive: 30,
    reconnectPeriod: 1000,
    // The client's Subscriptions resubscribe, and retry what a broker refused (mqtt.js forgets those).
    resubscribe: false,
    connectTimeout: o.connectTimeoutMs,
    ...MQTT_LOG,
    ...failoverOptions(o.url, o.failoverUrls),
    username: o.username,
    password: o.password,
    ...(o.persistentSession && o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 24 * 3600 } } : {}),
    ...(o.tls ? { ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, rejectUnauthorized: o.tls.rejectUnauthorized ?? true } : {}),
  };
  const client = mqtt.connect(o.url, opts);
  let first = true;
  let down = false;
  client.on("close", () => {
    if (first || down || on.closed()) return;
    down = true;
    on.broker(false);
  });
  client.on("connect", (connack) => {
    // mqtt.js leaves Nagle on: a QoS 1 round trip would cost tens of milliseconds.
    (client.stream as unknown as Socket).setNoDelay?.(true);
    on.connected(client, connack.sessionPresent);
    if (first) {
      first = false;
      return;
    }
    if (down) {
      down = false;
      on.broker(true);
    }
    on.reconnected();
  });
  client.on("message", (topic, payload) => on.message(topic, payload));
  // mqtt.js sends the PUBACK of an ack as soon as this returns, and its socket write (a nextTick)
  // would run before the caller resumes and sends the next command. One microtask later, the
  // PUBACK is corked together with that next PUBLISH: one write on the round trip instead of two.
  client.handleMessage = (_packet, callback) => queueMicrotask(() => callback());
  client.on("error", () => {
    /* reported through `ready` or retried by reconnecting */
  });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CloudError("connection_failed", "no connection to the broker")), o.connectTimeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(new CloudError("connection_failed", `cannot connect to the broker (${(err as NodeJS.ErrnoException).code ?? err.name})`));
    };
    client.once("error", onError);
    client.once("connect", () => {
      clearTimeout(timer);
      client.off("error", onError);
      resolve();
    });
  });
  return { client, ready };
}
