/**
 * JsonFileSeqStore under kill -9: a child saves in a tight loop (reporting each seq once save has
 * returned) and is killed mid-save; the file is always whole JSON and never behind a seq whose
 * save returned. (A SIGKILL keeps the page cache, so this shows the write-then-rename order; the
 * fsyncs of the temp file and the directory are what carry it across a power loss.)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { JsonFileSeqStore, MemorySeqStore } from "../../../src/cloud/index.js";
import { tempDirs } from "../../helpers/tmp.js";

const dirs = tempDirs();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  dirs.cleanup();
});

const CHILD = `
import { JsonFileSeqStore } from ${JSON.stringify(join(process.cwd(), "src/cloud/index.ts"))};
const store = new JsonFileSeqStore(process.argv[2]);
let seq = Number(process.argv[3]);
for (let i = 0; i < 50; i++) store.save("other-" + i, i, "00000000000000aa");
for (;;) {
  seq++;
  store.save("p1", seq, "0123456789abcdef");
  if (seq % 5 === 0) process.stdout.write(seq + "\\n");
}
`;

async function killMidSave(path: string, from: number): Promise<number> {
  const script = join(dirname(path), "..", "child.mts");
  writeFileSync(script, CHILD);
  // One process (node with tsx's loader), so SIGKILL hits the process that saves: the tsx CLI would run it in a child.
  const child = spawn(process.execPath, ["--import", "tsx", script, path, String(from)], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  let reported = from;
  let out = "";
  await new Promise<void>((resolve) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const lines = out.split("\n");
      out = lines.pop()!;
      for (const l of lines) if (l) reported = Number(l);
      // Killed at a random point once it is well into its loop.
      if (reported >= from + 40 + Math.floor(Math.random() * 40)) resolve();
    });
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGKILL");
  await exited;
  return reported;
}

describe("JsonFileSeqStore", () => {
  it("is whole and never behind a returned save after kill -9 mid-save (five kills)", async () => {
    const path = join(dirs.make("seqstore-"), "state", "seq.json");
    let from = 0;
    for (let round = 0; round < 5; round++) {
      const reported = await killMidSave(path, from);
      const text = readFileSync(path, "utf8");
      const parsed = JSON.parse(text) as Record<string, { seq: number; epoch: string }>;
      expect(parsed.p1!.seq).toBeGreaterThanOrEqual(reported);
      expect(parsed.p1!.epoch).toBe("0123456789abcdef");
      expect(Object.keys(parsed)).toHaveLength(51);
      const store = new JsonFileSeqStore(path);
      expect(store.load("p1")).toBe(parsed.p1!.seq);
      from = parsed.p1!.seq;
    }
  }, 120_000);

  it("reads the file written before epochs were kept, and keeps an epoch once given", () => {
    const path = join(dirs.make("seqstore-"), "seq.json");
    writeFileSync(path, JSON.stringify({ demo: 12, bad: -1, worse: "x" }));
    const store = new JsonFileSeqStore(path);
    expect(store.load("demo")).toBe(12);
    expect(store.loadEpoch("demo")).toBeUndefined();
    expect(store.load("bad")).toBeUndefined();
    store.save("demo", 13, "00112233445566ff");
    store.save("demo", 14);
    const again = new JsonFileSeqStore(path);
    expect([again.load("demo"), again.loadEpoch("demo")]).toEqual([14, "00112233445566ff"]);
    const mem = new MemorySeqStore();
    mem.save("p", 3, "00112233445566ff");
    expect([mem.load("p"), mem.loadEpoch("p")]).toEqual([3, "00112233445566ff"]);
  });

  it("keeps a pinned identity beside seq and epoch: pinned before anything was sent, kept by later saves, forgotten on request", () => {
    const path = join(dirs.make("seqstore-"), "seq.json");
    const id = "ab".repeat(32);
    const store = new JsonFileSeqStore(path);
    store.saveIdentity("p1", id);
    expect([store.load("p1"), store.loadIdentity("p1")]).toEqual([undefined, id]);
    store.save("p1", 5, "00112233445566ff");
    store.save("p1", 6);
    const again = new JsonFileSeqStore(path);
    expect([again.load("p1"), again.loadEpoch("p1"), again.loadIdentity("p1")]).toEqual([6, "00112233445566ff", id]);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ p1: { seq: 6, epoch: "00112233445566ff", identity: id } });
    expect(() => again.saveIdentity("p1", "not hex")).toThrow(TypeError);
    again.saveIdentity("p1", undefined);
    expect(new JsonFileSeqStore(path).loadIdentity("p1")).toBeUndefined();
    expect(new JsonFileSeqStore(path).load("p1")).toBe(6);
    const mem = new MemorySeqStore();
    mem.saveIdentity("p", id);
    expect(mem.loadIdentity("p")).toBe(id);
  });
});
