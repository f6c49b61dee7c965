import { describe, expect, it } from "vitest";
import { commandSchema, RuleError, Secret } from "../../../src/domain/index.js";
import { encodeBatch, encodeCommand, encodeParsedBatch, encodeParsedCommand, openEnvelope, type CommandToSend, type WireCommandInput } from "../../../protocol/index.js";
import { vectorRandom } from "../../../protocol/vectors/vectors.js";
import { actor, everyKind, EXP, keys, openOpts, PANEL } from "./helpers.js";

/** What the cloud client hands the parsed encoders: commandSchema's output. */
const parsed = (c: WireCommandInput) => commandSchema.parse(c) as WireCommandInput;

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err instanceof RuleError ? err.toJSON() : err;
  }
  return "no error";
}

describe("encoders for already-parsed commands", () => {
  it.each(everyKind().map((c) => [c.kind, c] as const))("give the same bytes as the checking encoder for %s", (_kind, command) => {
    const item = { seq: 9, expiresAt: EXP, command: parsed(command) };
    expect(encodeParsedCommand(PANEL, item, keys, vectorRandom()).equals(encodeCommand(PANEL, item, keys, vectorRandom()))).toBe(true);
  });

  it("give the same batch bytes, and the agent opens them", () => {
    const items: CommandToSend[] = everyKind().map((c, i) => ({ seq: 100 + i, expiresAt: EXP, command: parsed(c) }));
    const bytes = encodeParsedBatch(PANEL, "b-1", items, keys, vectorRandom());
    expect(bytes.equals(encodeBatch(PANEL, "b-1", items, keys, vectorRandom()))).toBe(true);
    const r = openEnvelope(bytes, openOpts());
    expect(r.ok && r.commands.every((c) => c.ok)).toBe(true);
  });

  it("still refuse what the domain schema does not cover: seq, expiry, an oversized sealed field, batch order", () => {
    const label = parsed({ kind: "set_label", id: "c1", actor, slot: 3, label: "Bob" });
    const huge = parsed({ kind: "set_code", id: "c2", actor, slot: 3, code: new Secret("1".repeat(140 * 1024)) });
    const cases: CommandToSend[] = [
      { seq: 0, expiresAt: EXP, command: label },
      { seq: 1.5, expiresAt: EXP, command: label },
      { seq: 1, expiresAt: -1, command: label },
      { seq: 1, expiresAt: Number.NaN, command: label },
      { seq: 1, expiresAt: EXP, command: huge },
    ];
    for (const item of cases) {
      const checking = thrown(() => encodeCommand(PANEL, item, keys));
      expect(checking).toMatchObject({ code: "schema_violation" });
      expect(thrown(() => encodeParsedCommand(PANEL, item, keys))).toEqual(checking);
    }
    const down = [{ seq: 2, expiresAt: EXP, command: label }, { seq: 1, expiresAt: EXP, command: { ...label, id: "c3" } }];
    expect(thrown(() => encodeParsedBatch(PANEL, "b", down, keys))).toEqual(thrown(() => encodeBatch(PANEL, "b", down, keys)));
  });

  it("the checking encoders keep refusing invalid commands", () => {
    const bad = { kind: "set_label", id: "c1", actor, slot: 0 } as WireCommandInput;
    expect(() => encodeCommand(PANEL, { seq: 1, expiresAt: EXP, command: bad }, keys)).toThrow(RuleError);
    expect(() => encodeBatch(PANEL, "b", [{ seq: 1, expiresAt: EXP, command: bad }], keys)).toThrow(RuleError);
  });
});
