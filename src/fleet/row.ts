/**
 * A database value as text: strings as they are, numbers and bigints in decimal. Anything else in
 * a column the code reads as text is a bug, said as one (never "[object Object]" in an answer).
 */
export function text(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  throw new TypeError(`expected a text column, got ${v === null ? "null" : typeof v}`);
}

/** A database value as a number (pg gives bigint and numeric columns back as text). */
export const num = (v: unknown): number => Number(v);
