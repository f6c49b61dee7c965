/**
 * Brute force and lockout across restart: wrong codes at the keypad socket of the agent child,
 * kill -9 mid-count and once locked, restart: the lock and its counters are still in force.
 */
import { Secret } from "../../src/domain/index.js";
import { keypadEntry, logSource, secretHits, stateFiles, waitFor } from "./harness.js";
import { SuiteRig } from "./rig.js";
import { cloudActor } from "./verify.js";

export interface LockoutFigures {
  lockout_kills: number;
  wrong_codes: number;
  lock_survived_restart: number;
  counter_survived_restart: number;
  panel_lock_survived_restart: number;
  crashes: number;
  secret_hits: number;
  details: string[];
}

const GOOD = "5826";

export async function runLockout(): Promise<LockoutFigures> {
  const rig = await SuiteRig.open({ name: "lock", mosquitto: { persistence: true }, config: { lockout: { maxAttempts: 5, lockSeconds: 600, panelMaxAttempts: 12, panelLockSeconds: 600 } } });
  const { agent, peer, files } = rig;
  const details: string[] = [];
  let kills = 0;
  let wrong = 0;
  try {
    await peer.send({ seq: 1, expiresAt: Date.now() + 60_000, command: { id: "l1", actor: cloudActor, kind: "set_code", slot: 2, code: new Secret(GOOD) } });
    await waitFor(() => peer.outcome("l1"), 10_000);
    const restart = async () => {
      await agent.kill();
      kills++;
      await agent.start();
    };
    const attempt = async (kp: string, code: string) => {
      if (code !== GOOD) wrong++;
      return (await keypadEntry(files.socket, kp, code, "arm_away")) ?? "no answer";
    };
    // 1. the counter: 3 wrong at kpA, kill -9, 2 more wrong -> locked (5 = maxAttempts)
    for (let i = 0; i < 3; i++) await attempt("kpA", String(1001 + i));
    await restart();
    await attempt("kpA", "1004");
    const fifth = await attempt("kpA", "1005");
    const counterSurvived = /locked/i.test(fifth) || /locked/i.test(await attempt("kpA", GOOD)) ? 1 : 0;
    if (!counterSurvived) details.push(`lockout: after 3 + restart + 2 wrong codes kpA answered ${fifth}`);
    // 2. the lock: kill -9 while locked; the right code is still refused at kpA, accepted at kpB
    await restart();
    const afterLock = await attempt("kpA", GOOD);
    const okElsewhere = await attempt("kpB", GOOD);
    const lockSurvived = /locked/i.test(afterLock) && /granted/i.test(okElsewhere) ? 1 : 0;
    if (!lockSurvived) details.push(`lockout: after restart, kpA answered ${afterLock}, kpB ${okElsewhere}`);
    // 3. the panel-wide counter: spread wrong codes over keypads (4 each, under the keypad limit) past 12 in all, with a kill in between
    let n = 0;
    for (const kp of ["kpC", "kpD"]) for (let i = 0; i < 4; i++) await attempt(kp, String(2001 + n++));
    await restart();
    for (const kp of ["kpE", "kpF"]) for (let i = 0; i < 4; i++) await attempt(kp, String(2001 + n++));
    await restart();
    const panelAfter = await attempt("kpG", GOOD);
    const panelSurvived = /locked|denied/i.test(panelAfter) ? 1 : 0;
    if (!panelSurvived) details.push(`lockout: panel-wide after ${n + 5} failures and restarts, a fresh keypad answered ${panelAfter}`);
    await agent.kill();
    const secrets = secretHits([GOOD], [...logSource(files), ...stateFiles(files.stateDir)]);
    details.push(...secrets.where);
    return {
      lockout_kills: kills,
      wrong_codes: wrong,
      lock_survived_restart: lockSurvived,
      counter_survived_restart: counterSurvived,
      panel_lock_survived_restart: panelSurvived,
      crashes: agent.crashes.length,
      secret_hits: secrets.hits,
      details,
    };
  } finally {
    await rig.close();
  }
}
