import { randomInt } from "node:crypto";

/**
 * Codes a generator must never pick: all one digit (0000, 7777), straight runs up or down
 * (1234, 4321, also wrapping 7890 / 0987), and the panel type's own refused codes.
 */
export function isWeakCode(code: string, refused: readonly string[] = []): boolean {
  if (!/^[0-9]+$/.test(code)) return true;
  if (refused.includes(code)) return true;
  const d = [...code].map(Number);
  const steps = new Set<number>();
  for (let i = 1; i < d.length; i++) steps.add((d[i]! - d[i - 1]! + 10) % 10);
  if (steps.size === 1) {
    const step = [...steps][0];
    if (step === 0 || step === 1 || step === 9) return true;
  }
  return d.length === 0;
}

/** A uniformly random code of `length` digits that is not weak (CSPRNG). */
export function generateCode(length: number, refused: readonly string[] = []): string {
  if (!Number.isInteger(length) || length < 1 || length > 16) throw new RangeError("code length must be 1..16");
  for (;;) {
    let code = "";
    for (let i = 0; i < length; i++) code += String(randomInt(10));
    if (!isWeakCode(code, refused)) return code;
  }
}
