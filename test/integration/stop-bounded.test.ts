/**
 * A stop (SIGTERM, systemd's ExecStop) finishes in bounded time even when the broker stops
 * answering: mqtt.js's clean end waits for every in-flight QoS 1 message, and a broker that never
 * PUBACKs (seen on a NATS cluster while JetStream moved its leaders) held the stop forever.
 */
import { Aedes } from "aedes";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { generateSigningKey } from "../../protocol/index.js";
import { cloudAgentConfig, runAgent } from "../helpers/cloud-harness.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

it("stops within seconds when the broker never acknowledges the offline status", async () => {
  const aedes = await Aedes.createBroker();
  let silent = false;
  // Once silent, a publish is never authorised: aedes then never sends its PUBACK.
  aedes.authorizePublish = (_client, _packet, callback) => {
    if (!silent) callback(null);
  };
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    aedes.handle(s);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  });
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = await runAgent(cloudAgentConfig(dirs.make(), url, "p-stop", generateSigningKey()));
  silent = true;
  const started = Date.now();
  await agent.stop();
  const took = Date.now() - started;
  // 1 s for the offline status's PUBACK, 2 s for the clean end, then closed anyway.
  expect(took).toBeLessThan(6000);
  expect(took).toBeGreaterThanOrEqual(900);
}, 20_000);
