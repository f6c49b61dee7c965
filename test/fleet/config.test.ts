/** panel-fleet's settings from the environment: the broker cluster's failover URLs and event sharing. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateSigningKey, rawPrivateKey } from "../../protocol/index.js";
import { fleetConfigFromEnv } from "../../src/fleet/config.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const dir = dirs.make("fleet-config-");
  const keyFile = join(dir, "signing.key");
  writeFileSync(keyFile, rawPrivateKey(generateSigningKey().privateKey).toString("hex"), { mode: 0o600 });
  return { FLEET_SIGNING_KEY_FILE: keyFile, FLEET_DATA_DIR: join(dir, "data"), ...extra };
}

describe("fleetConfigFromEnv", () => {
  it("takes the broker cluster's other nodes, comma-separated, and a share group with a worker id", () => {
    const c = fleetConfigFromEnv(env({ FLEET_BROKER_URL: "mqtt://n1:1883", FLEET_BROKER_FAILOVER_URLS: "mqtt://n2:1883, tls://n3:8883", FLEET_EVENT_SHARE_GROUP: "panel-fleet", FLEET_WORKER_ID: "w-a" }));
    expect(c.brokerFailoverUrls).toEqual(["mqtt://n2:1883", "tls://n3:8883"]);
    expect(c.eventShareGroup).toBe("panel-fleet");
    expect(fleetConfigFromEnv(env({})).brokerFailoverUrls).toEqual([]);
  });

  it("refuses a WebSocket failover URL and a share group without a worker id, naming each setting", () => {
    let message = "";
    try {
      fleetConfigFromEnv(env({ FLEET_BROKER_FAILOVER_URLS: "ws://n2:9001/mqtt", FLEET_EVENT_SHARE_GROUP: "panel-fleet" }));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/FLEET_BROKER_FAILOVER_URLS: ws:\/\/n2:9001\/mqtt is not/);
    expect(message).toMatch(/FLEET_EVENT_SHARE_GROUP: needs FLEET_WORKER_ID/);
  });

  it("takes the publisher lease in seconds (default 10) and refuses one out of 3-600", () => {
    expect(fleetConfigFromEnv(env({})).leaseMs).toBe(10_000);
    expect(fleetConfigFromEnv(env({ FLEET_LEASE_SECONDS: "4.5" })).leaseMs).toBe(4500);
    for (const bad of ["2", "601", "ten"]) {
      expect(() => fleetConfigFromEnv(env({ FLEET_LEASE_SECONDS: bad }))).toThrow(/FLEET_LEASE_SECONDS: must be a number of seconds from 3 to 600/);
    }
  });

  it("signs every webhook delivery: a webhook URL needs FLEET_WEBHOOK_SECRET, of 16 characters at least", () => {
    const url = "https://hooks.example/fleet";
    expect(() => fleetConfigFromEnv(env({ FLEET_NOTIFICATION_WEBHOOK_URL: url }))).toThrow(/FLEET_WEBHOOK_SECRET: needed with a webhook URL/);
    expect(() => fleetConfigFromEnv(env({ FLEET_ACCOUNT_WEBHOOK_URL: url }))).toThrow(/FLEET_WEBHOOK_SECRET: needed with a webhook URL/);
    expect(() => fleetConfigFromEnv(env({ FLEET_ACCOUNT_WEBHOOK_URL: url, FLEET_WEBHOOK_SECRET: "short" }))).toThrow(/FLEET_WEBHOOK_SECRET: at least 16 characters/);
    const c = fleetConfigFromEnv(env({ FLEET_NOTIFICATION_WEBHOOK_URL: url, FLEET_ACCOUNT_WEBHOOK_URL: url, FLEET_WEBHOOK_SECRET: "a-long-enough-secret" }));
    expect(c.webhooks).toEqual({ notificationUrl: url, accountUrl: url, secret: "a-long-enough-secret" });
    expect(fleetConfigFromEnv(env({})).webhooks).toEqual({});
  });
});
