/** Broker down: the agent backs off (capped) and logs the outage once, not a warning a second (issue 12, item 11). */
import { createServer, type Server } from "node:net";
import { afterEach, expect, it } from "vitest";
import { generateSigningKey } from "../../protocol/index.js";
import { Agent } from "../../src/agent.js";
import { agentConfig } from "../helpers/agent-harness.js";
import { captureLogger } from "../helpers/log-capture.js";
import { tempDirs } from "../helpers/tmp.js";

const dirs = tempDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  dirs.cleanup();
});

it("retries a broker that drops every connection after 1, 2, 4 s ... and logs one warning for the outage", async () => {
  // A "broker" that accepts and hangs up at once: every attempt fails the same way.
  const attempts: number[] = [];
  const server: Server = createServer((socket) => {
    attempts.push(Date.now());
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;

  const { logger, lines } = captureLogger();
  const agent = new Agent(agentConfig(dirs.make(), `mqtt://127.0.0.1:${port}`, generateSigningKey()), { logger: logger, random: () => 0.999999 });
  cleanups.push(() => agent.stop());
  await agent.start();
  await new Promise((r) => setTimeout(r, 8_000));

  // A fixed 1 s period made ~9 attempts and 9+ warnings in 8 s; doubling makes 4 (t = 0, 1, 3, 7 s).
  expect(attempts.length).toBeGreaterThanOrEqual(3);
  expect(attempts.length).toBeLessThanOrEqual(5);
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
  for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThan(gaps[i - 1]! * 1.5);
  const warnings = lines.filter((l) => Number(l.level) >= 40);
  expect(warnings.map((l) => l.msg)).toEqual(["broker unreachable; keypads keep working, the outbox keeps events; retrying with backoff up to 60 s"]);
}, 20_000);
