/**
 * Where a code shows up in text (a database dump, logs, HTTP traffic). Ids, timestamps and hex
 * blobs (ciphertexts, keys) are full of digit runs that match a 4-digit code by chance, so they are
 * masked first; what is left is searched for the code as a whole digit run, and the raw text for
 * the code's UTF-8 bytes in hex (a code stored as bytes in clear).
 */
export function leaks(text: string, codes: readonly string[]): string[] {
  const masked = text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<uuid>")
    .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?/g, "<time>")
    .replace(/\\\\x[0-9a-f]+|\\x[0-9a-f]+/gi, "<bytes>")
    .replace(/\b[0-9a-f]{16,}\b/gi, "<hex>");
  const found: string[] = [];
  for (const code of codes) {
    const asRun = new RegExp(`(?<![0-9])${code}(?![0-9])`);
    if (asRun.test(masked) || text.toLowerCase().includes(Buffer.from(code).toString("hex"))) found.push(code);
  }
  return found;
}
