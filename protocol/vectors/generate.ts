/** Writes protocol/vectors/<name>.hex and <name>.json. Run: npx tsx protocol/vectors/generate.ts */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { buildVectors, digestVector, vectorJson } from "./vectors.js";

const dir = dirname(fileURLToPath(import.meta.url));
for (const v of buildVectors()) {
  writeFileSync(join(dir, `${v.name}.hex`), v.bytes.toString("hex") + "\n");
  writeFileSync(join(dir, `${v.name}.json`), JSON.stringify(vectorJson(v), null, 2) + "\n");
  console.log(`${v.name}: ${v.bytes.length} bytes`);
}
writeFileSync(join(dir, "digest.json"), JSON.stringify(digestVector(), null, 2) + "\n");
console.log("digest: digest.json");
