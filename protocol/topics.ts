import { PANEL_ID_PATTERN } from "./schema.js";

/**
 * Topic layout (protocol/README.md, "Topics"): `<prefix>/<panelId>/<channel>`.
 *   cmd     cloud -> agent  signed command envelopes (QoS 1)
 *   ack     agent -> cloud  acks and batch acks (QoS 1)
 *   evt     agent -> cloud  events (QoS 1)
 *   state   agent -> cloud  retained state (QoS 1, retained)
 *   status  agent -> cloud  retained online/offline; also the agent's last will (QoS 1, retained)
 */

export const DEFAULT_PREFIX = "panels";
export const CHANNELS = ["cmd", "ack", "evt", "state", "status"] as const;
export type Channel = (typeof CHANNELS)[number];
/** The channels an agent publishes on (the cloud subscribes to these). */
export const AGENT_CHANNELS = ["ack", "evt", "state", "status"] as const satisfies readonly Channel[];

export type PanelTopics = Readonly<Record<Channel, string>>;

/** A topic prefix: one or more levels of letters, digits, '.', '_' or '-' (no wildcards, no empty level). */
export const TOPIC_PREFIX_PATTERN = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export function isValidPanelId(panelId: string): boolean {
  return PANEL_ID_PATTERN.test(panelId);
}

function checkPrefix(prefix: string): void {
  if (!TOPIC_PREFIX_PATTERN.test(prefix)) throw new TypeError(`invalid topic prefix: ${JSON.stringify(prefix)}`);
}

/** The five topics of one panel. Throws on a panel id that is not a valid single topic level. */
export function panelTopics(panelId: string, prefix: string = DEFAULT_PREFIX): PanelTopics {
  checkPrefix(prefix);
  if (!isValidPanelId(panelId)) throw new TypeError("invalid panel id (allowed: A-Z a-z 0-9 . _ -, 1-64 chars, starting alphanumeric)");
  const base = `${prefix}/${panelId}/`;
  return { cmd: base + "cmd", ack: base + "ack", evt: base + "evt", state: base + "state", status: base + "status" };
}

/** Parses a concrete topic (not a filter) under `prefix`; null when it is not one of ours. */
export function parseTopic(topic: string, prefix: string = DEFAULT_PREFIX): { panelId: string; channel: Channel } | null {
  if (!topic.startsWith(prefix + "/")) return null;
  const rest = topic.slice(prefix.length + 1);
  const slash = rest.indexOf("/");
  if (slash <= 0) return null;
  const panelId = rest.slice(0, slash);
  const channel = rest.slice(slash + 1);
  if (!isValidPanelId(panelId) || !(CHANNELS as readonly string[]).includes(channel)) return null;
  return { panelId, channel: channel as Channel };
}

/** The filter for one channel of every panel: `panels/+/ack`. */
export function fleetFilter(channel: Channel, prefix: string = DEFAULT_PREFIX): string {
  checkPrefix(prefix);
  return `${prefix}/+/${channel}`;
}

/**
 * An MQTT 5 shared subscription (`$share/<group>/panels/+/ack`): each message goes to one member
 * of the group, so N cloud workers split the fleet's acks/events between them.
 */
export function sharedFilter(group: string, channel: Channel, prefix: string = DEFAULT_PREFIX): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(group)) throw new TypeError("invalid share group name");
  return `$share/${group}/${fleetFilter(channel, prefix)}`;
}
