import { setTimeout as sleep } from "node:timers/promises";

/**
 * The tests' one wait: polls `probe` (sync or async) until it gives a value other than undefined,
 * null or false, and returns it; after `timeoutMs` it throws naming `what`. Not vitest's
 * vi.waitFor: the reliability and bench runners (`npm run reliability`, `npm run bench`) use the
 * same harness outside vitest, where vi.waitFor throws ("Vitest failed to access its internal state").
 */
export async function waitFor<T>(probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 10_000, what = "the condition", stepMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Like waitFor, but gives undefined at the deadline instead of throwing (for counting what did not happen). */
export async function waitOrGiveUp<T>(probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs: number, stepMs = 20): Promise<T | undefined> {
  try {
    return await waitFor(probe, timeoutMs, "", stepMs);
  } catch {
    return undefined;
  }
}
