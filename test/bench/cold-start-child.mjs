// Child process of store.bench.ts, run with plain node on the compiled agent (dist/): opens an
// existing state directory through the same path the agent uses at start (PanelCore: store,
// device key, table, access index) and reports the time to ready and the resident memory.
import { performance } from "node:perf_hooks";

const [dir, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const { PanelCore } = await import("../../dist/src/core.js");
const t0 = performance.now();
const core = new PanelCore({ stateDir: dir, config, encodeEvent: () => ({ kind: "evt", body: new Uint8Array() }) });
const ms = performance.now() - t0;
const users = core.index.size;
globalThis.gc?.();
const rss = process.memoryUsage().rss / (1024 * 1024);
core.close();
process.stdout.write(JSON.stringify({ ms, rss, users }) + "\n");
