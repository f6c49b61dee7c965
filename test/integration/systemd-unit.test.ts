import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const unit = fileURLToPath(new URL("../../systemd/panel-agent.service", import.meta.url));
const hasSystemd = spawnSync("systemd-analyze", ["--version"]).status === 0;

describe("systemd unit", () => {
  it.skipIf(!hasSystemd)("passes systemd-analyze verify", () => {
    // verify prints problems on stderr and exits non-zero for errors; a missing ExecStart binary
    // (the agent is not installed on the test machine) is only reported, not fatal.
    const out = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    const problems = (out.stderr + out.stdout).split("\n").filter((l) => l.trim() !== "" && !/Command .* is not executable|No such file or directory/.test(l));
    expect(problems).toEqual([]);
    expect(out.status === 0 || problems.length === 0).toBe(true);
  });

  it("is Type=notify with a watchdog, restart on failure, its own user and the hardening set", () => {
    const text = readFileSync(unit, "utf8");
    for (const line of [
      "Type=notify", "WatchdogSec=30", "Restart=on-failure", "User=panel-agent", "StateDirectory=panel-agent", "RuntimeDirectory=panel-agent",
      "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service", "MemoryMax=256M",
    ]) expect(text).toContain(line);
  });

  it.skipIf(!hasSystemd)("would catch a broken directive", () => {
    const broken = readFileSync(unit, "utf8").replace("Type=notify", "Type=notifyy");
    const out = spawnSync("bash", ["-c", `f=$(mktemp -d)/panel-agent.service; cat > "$f"; systemd-analyze verify "$f"`], { input: broken, encoding: "utf8" });
    expect(out.stderr).toMatch(/notifyy|Failed to parse/);
  });
});
