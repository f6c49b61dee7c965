import { spawn } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey, rawPrivateKey } from "../../protocol/index.js";
import { Mosquitto } from "../helpers/mosquitto.js";
import { tempDirs } from "../helpers/tmp.js";
import { ApiClient } from "./http-client.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dirs = tempDirs();
const broker = new Mosquitto();

beforeAll(async () => {
  await broker.start();
});

afterAll(async () => {
  await broker.dispose();
  dirs.cleanup();
});

function run(env: Record<string, string>, onLine?: (line: string, child: ReturnType<typeof spawn>) => void) {
  const child = spawn(join(root, "node_modules/.bin/tsx"), ["src/bin/panel-fleet.ts", "--port", "0"], { cwd: root, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    for (const line of d.toString().split("\n")) if (line) onLine?.(line, child);
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on("exit", (code) => resolve({ code, out, err })));
}

describe("panel-fleet binary", () => {
  it("starts on PGlite in its data directory, answers the API, makes the code key 0600 and exits 0 on SIGTERM", async () => {
    const dir = dirs.make("fleet-bin-");
    const keyFile = join(dir, "signing.key");
    writeFileSync(keyFile, rawPrivateKey(generateSigningKey().privateKey).toString("hex"), { mode: 0o600 });
    let answer: { status: number; body: unknown } | undefined;
    let anonymous: { status: number; body: unknown } | undefined;
    const env = { FLEET_DATA_DIR: join(dir, "data"), FLEET_SIGNING_KEY_FILE: keyFile, FLEET_BROKER_URL: broker.url, FLEET_LOG_LEVEL: "warn", FLEET_ADMIN_EMAIL: "boss@fleet.test", FLEET_ADMIN_PASSWORD: "first admin password" };
    const result = await run(env, (line, child) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (!m) return;
      void (async () => {
        const r0 = await fetch(`${m[1]}/api/v1/people/nobody`);
        anonymous = { status: r0.status, body: await r0.json() };
        const api = new ApiClient(m[1]!);
        await api.signIn("boss@fleet.test", "first admin password");
        const r = await api.get("/api/v1/people/nobody");
        answer = { status: r.status, body: r.body };
        child.kill("SIGTERM");
      })();
    });
    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    expect(anonymous).toMatchObject({ status: 401, body: { error: { code: "not_signed_in" } } });
    expect(answer).toEqual({ status: 404, body: { error: { code: "person_not_found", message: "No person has that id.", detail: { personId: "nobody" } } } });
    expect(statSync(join(dir, "data", "code.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "data", "pgdata")).isDirectory()).toBe(true);
  });

  it("exits 78 naming every missing setting", async () => {
    const result = await run({ DATABASE_URL: "postgres://127.0.0.1:1/x" });
    expect(result.code).toBe(78);
    expect(result.err).toContain("FLEET_CODE_KEY_FILE");
    expect(result.err).toContain("FLEET_SIGNING_KEY_FILE");
  });
});
