import type { IClientOptions } from "mqtt";

/**
 * mqtt.js traces every packet through the `debug` module (~30 calls per command round trip); even
 * disabled, that cost ~20-30 µs per round trip on the test machine. Both of our MQTT clients (the
 * agent's link and the cloud client) pass this: tracing stays available with DEBUG=mqttjs*.
 */
export const MQTT_LOG: Pick<IClientOptions, "log"> = /mqttjs/.test(process.env.DEBUG ?? "") ? {} : { log: () => {} };
