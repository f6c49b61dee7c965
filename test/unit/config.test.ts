import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config.js";

const valid = {
  panelId: "panel-1",
  panelType: "DSC",
  codeLength: 4,
  timeZone: "Europe/Berlin",
  stateDir: "/var/lib/panel-agent",
  keypadSocket: "/run/panel-agent/keypad.sock",
  broker: { url: "mqtt://127.0.0.1:1883" },
  trustedCloudKeys: ["11".repeat(32)],
};

function problems(raw: unknown, env = {}): string[] {
  try {
    parseConfig(raw, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("config", () => {
  it("fills defaults for lockout, retention and the broker", () => {
    const c = parseConfig(valid);
    expect(c.lockout).toEqual({ maxAttempts: 10, lockSeconds: 90, strict: false, panelMaxAttempts: 30, panelLockSeconds: 90 });
    expect(c.broker.protocolVersion).toBe(4);
    expect(c.broker.topicPrefix).toBe("panels");
    expect(c.retention.actionLogDays).toBe(365);
  });

  it("reports every problem at once, each with its field path", () => {
    const p = problems({ ...valid, panelType: "Acme", timeZone: "Mars/Olympus", broker: { url: "http://x" }, trustedCloudKeys: [] });
    expect(p.some((x) => x.startsWith("panelType:"))).toBe(true);
    expect(p.some((x) => x.startsWith("timeZone:"))).toBe(true);
    expect(p.some((x) => x.startsWith("broker.url:"))).toBe(true);
    expect(p.some((x) => x.startsWith("trustedCloudKeys:"))).toBe(true);
  });

  it("checks the code length and partitions against the panel type", () => {
    expect(problems({ ...valid, panelType: "Visonic", codeLength: 6 })).toEqual(["codeLength: Visonic panels take 4-digit codes"]);
    expect(problems({ ...valid, partitions: 9 })).toEqual(["partitions: DSC panels have at most 8 partitions"]);
  });

  it("lets environment variables override the file", () => {
    const c = parseConfig(valid, { PANEL_AGENT_BROKER_URL: "mqtts://broker:8883", PANEL_AGENT_PANEL_ID: "0042", PANEL_AGENT_CODE_LENGTH: "6", PANEL_AGENT_TRUSTED_CLOUD_KEYS: `${"aa".repeat(32)}, ${"bb".repeat(32)}` });
    expect(c.broker.url).toBe("mqtts://broker:8883");
    expect(c.panelId).toBe("0042");
    expect(c.codeLength).toBe(6);
    expect(c.trustedCloudKeys).toEqual(["aa".repeat(32), "bb".repeat(32)]);
  });

  it("names the environment variable when an override is the bad value", () => {
    expect(problems(valid, { PANEL_AGENT_CODE_LENGTH: "5" })).toEqual(["codeLength: DSC panels take 4 or 6-digit codes (set by PANEL_AGENT_CODE_LENGTH)"]);
    expect(problems(valid, { PANEL_AGENT_TRUSTED_CLOUD_KEYS: "nope" })[0]).toMatch(/^trustedCloudKeys\.0: .*\(set by PANEL_AGENT_TRUSTED_CLOUD_KEYS\)$/);
    // A bad value in the file itself names no variable.
    expect(problems({ ...valid, codeLength: 5 })).toEqual(["codeLength: DSC panels take 4 or 6-digit codes"]);
  });

  it("checks every trusted cloud key's format with its index (regression: 'hello-world' was a fatal start error)", () => {
    const p = problems({ ...valid, trustedCloudKeys: ["hello-world", "11".repeat(32), "AAAA"] });
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/^trustedCloudKeys\.0: an Ed25519 public key/);
    expect(p[1]).toMatch(/^trustedCloudKeys\.2: /);
    expect(problems({ ...valid, trustedCloudKeys: [Buffer.alloc(32, 7).toString("base64")] })).toEqual([]);
  });

  it("refuses unknown fields", () => {
    expect(problems({ ...valid, pinCode: "1234" })[0]).toMatch(/pinCode|Unrecognized/);
  });
});
