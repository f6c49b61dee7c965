import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** The shell block under "## Installing on a device" in README.md, exactly as a reader copies it. */
export function readmeInstallBlock(readme = readFileSync(join(REPO, "README.md"), "utf8")): string[] {
  const section = readme.slice(readme.indexOf("## Installing on a device"));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error("README.md has no sh block under 'Installing on a device'");
  return block[1]!.split("\n").filter((l) => l.trim() !== "");
}

/**
 * The README's lines as run under a temporary prefix: `sudo` dropped, /opt and /etc moved under
 * $PREFIX, the group set to the tester's own, and the lines that change the host (useradd,
 * systemctl, /etc/systemd) left out. `npm ci` is left out too: the copy starts from this
 * checkout's node_modules, which is what `npm ci` made (hard links, so prune cannot touch it).
 */
export function installScript(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (/useradd|systemctl|\/etc\/systemd/.test(line)) continue;
    const l = line
      .replace(/^npm ci && /, "")
      .replace(/\bsudo /g, "")
      .replace(/-o root -g panel-agent/, '-g "$(id -gn)"')
      .replace(/(^|\s)\/(opt|etc)\//g, '$1"$PREFIX"/$2/');
    out.push(l);
  }
  return out;
}

export interface DeviceInstall {
  prefix: string;
  /** /opt/panel-agent under the prefix. */
  home: string;
  configPath: string;
  /** ExecStart of the unit, under the prefix: [node, ...flags, daemon.js, --config, FILE]. */
  execStart: string[];
  /** The unit's Environment= lines, their paths under the prefix (StateDirectory and RuntimeDirectory made). */
  env: Record<string, string>;
  stateDir: string;
  socketPath: string;
}

/** Does the README's device install under `prefix`, from a copy of this checkout (git-tracked files + node_modules). */
export function installDevice(prefix: string): DeviceInstall {
  const build = join(prefix, "build");
  mkdirSync(build, { recursive: true });
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: REPO, encoding: "utf8" }).split("\0").filter(Boolean);
  for (const f of files) {
    mkdirSync(dirname(join(build, f)), { recursive: true });
    try {
      copyFileSync(join(REPO, f), join(build, f));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err; // deleted in the work tree, not yet committed
    }
  }
  execFileSync("cp", ["-al", join(REPO, "node_modules"), join(build, "node_modules")]);
  const script = ["set -euo pipefail", ...installScript(readmeInstallBlock())].join("\n");
  const run = spawnSync("bash", ["-c", script], { cwd: build, env: { ...process.env, PREFIX: prefix, npm_config_audit: "false", npm_config_fund: "false" }, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`the README's install failed (${run.status}):\n${script}\n${run.stdout}\n${run.stderr}`);

  const unit = readFileSync(join(REPO, "systemd", "panel-agent.service"), "utf8");
  const under = (p: string) => p.replace(/^\/(opt|etc|var|run)\//, `${prefix}/$1/`);
  const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(/\s+/);
  const execStart = [process.execPath, ...exec.slice(1).map(under)];
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)) env[m[1]!] = under(m[2]!);
  const stateDir = env.PANEL_AGENT_STATE_DIR!;
  const socketPath = env.PANEL_AGENT_KEYPAD_SOCKET!;
  mkdirSync(stateDir, { recursive: true, mode: 0o750 }); // StateDirectory=
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o750 }); // RuntimeDirectory=
  return { prefix, home: join(prefix, "opt", "panel-agent"), configPath: under("/etc/panel-agent/config.json"), execStart, env, stateDir, socketPath };
}
