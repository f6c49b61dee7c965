import type { IClientOptions } from "mqtt";

/**
 * Several nodes of one broker cluster (a NATS or EMQX cluster, mosquitto behind a pair): the MQTT
 * client connects to the first and, each time the connection is lost, tries the next in turn
 * (mqtt.js `servers`). A panel or a worker on a node that went down moves to a surviving node
 * instead of waiting for it to come back.
 *
 * Only TCP and TLS URLs: mqtt.js's server list carries a host, port and protocol, not a WebSocket path.
 */
export const FAILOVER_URL_PATTERN = /^(mqtts?|tcp|tls):\/\/[^/]+\/?$/;

const PROTOCOLS = { "mqtt:": "mqtt", "tcp:": "mqtt", "mqtts:": "mqtts", "tls:": "mqtts" } as const;
const DEFAULT_PORTS = { mqtt: 1883, mqtts: 8883 } as const;

type Server = NonNullable<IClientOptions["servers"]>[number];

function server(url: string): Server {
  const u = new URL(url);
  const protocol = PROTOCOLS[u.protocol as keyof typeof PROTOCOLS];
  if (!protocol) throw new TypeError(`a failover broker URL must be mqtt://, mqtts://, tcp:// or tls://: ${u.protocol}`);
  return { host: u.hostname, port: u.port ? Number(u.port) : DEFAULT_PORTS[protocol], protocol };
}

/** The mqtt.js options for a primary URL and its failover URLs; none when there are none. */
export function failoverOptions(url: string, failoverUrls: readonly string[] = []): Pick<IClientOptions, "servers"> {
  if (failoverUrls.length === 0) return {};
  return { servers: [url, ...failoverUrls].map(server) };
}

/** The broker a connected client is on now (host:port), for logs. */
export function currentBroker(options: IClientOptions): string {
  return `${options.hostname ?? options.host ?? "?"}:${options.port ?? "?"}`;
}
