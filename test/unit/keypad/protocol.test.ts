import { describe, expect, it } from "vitest";
import { parseScript } from "../../../emulator/script.js";
import { encode, parseLine } from "../../../src/keypad/protocol.js";

describe("keypad line protocol", () => {
  it("parses every client message", () => {
    const lines = [
      { t: "hello", keypad: "kp1", partitions: [1, 2] },
      { t: "key", k: "7" },
      { t: "key", k: "chime" },
      { t: "entry", action: "open", code: "1234", door: "front" },
      { t: "tag", tag: "04A1B2C3" },
      { t: "door", door: "garage.1" },
      { t: "partition", partition: 0 },
      { t: "refresh" },
      { t: "ping", id: 3 },
    ];
    for (const m of lines) expect(parseLine(JSON.stringify(m))).toEqual({ ok: true, message: m });
  });

  it.each([
    ['{"t":"hello","keypad":"kp 1","partitions":[1]}', "keypad"],
    ['{"t":"hello","keypad":"kp1","partitions":[0]}', "partitions.0"],
    ['{"t":"entry","action":"disarm","code":"123456789"}', "code"],
    ['{"t":"entry","action":"arm","code":"1234"}', "action"],
    ['{"t":"tag","tag":"\\u001b[2J"}', "tag"],
    ['{"t":"partition","partition":1.5}', "partition"],
  ])("refuses %s naming the field %s", (line, field) => {
    const r = parseLine(line);
    expect(r).toMatchObject({ ok: false, error: "bad_message" });
    expect(!r.ok && r.message).toContain(`(${field}: `);
  });

  it("never quotes a value or an unknown key's name", () => {
    const r = parseLine('{"t":"entry","action":"disarm","code":"98x7","c9876":"1"}');
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).not.toMatch(/98x7|9876/);
  });

  it("refuses non-objects as bad_json", () => {
    for (const line of ["", "1234", "null", "[1]", "{", '"x"']) expect(parseLine(line)).toMatchObject({ ok: false, error: "bad_json" });
  });

  it("encodes one object per line", () => {
    expect(encode({ t: "display", line1: "a", line2: "b" })).toBe('{"t":"display","line1":"a","line2":"b"}\n');
  });
});

describe("emulator script parser", () => {
  it("turns commands into protocol messages", () => {
    const { steps, errors } = parseScript(
      ["# comment", "keys 12*#", "key stay", "away", "entry stay 1234", "entry open 1234 front", "tag AB12 front", "door back", "door back 4321", "partition 2", "refresh", "wait 100", ""].join("\n"),
    );
    expect(errors).toEqual([]);
    expect(steps).toEqual([
      { kind: "send", messages: [..."12*#"].map((k) => ({ t: "key", k })) },
      { kind: "send", messages: [{ t: "key", k: "stay" }] },
      { kind: "send", messages: [{ t: "key", k: "away" }] },
      { kind: "send", messages: [{ t: "entry", action: "arm_stay", code: "1234" }] },
      { kind: "send", messages: [{ t: "entry", action: "open", code: "1234", door: "front" }] },
      { kind: "send", messages: [{ t: "tag", tag: "AB12", door: "front" }] },
      { kind: "send", messages: [{ t: "door", door: "back" }] },
      { kind: "send", messages: [{ t: "entry", action: "open", code: "4321", door: "back" }] },
      { kind: "send", messages: [{ t: "partition", partition: 2 }] },
      { kind: "send", messages: [{ t: "refresh" }] },
      { kind: "wait", ms: 100 },
    ]);
  });

  it("reports every bad line with its number, never its value", () => {
    const { errors } = parseScript("keys 12x\nentry nope 1234\ntag\ndoor front 12ab\npartition -1\nkey f1\nstay 1234\n");
    expect(errors.map((e) => e.match(/^script line (\d+):/)?.[1])).toEqual(["1", "2", "3", "4", "5", "6", "7"]);
    expect(errors.join("\n")).not.toMatch(/12x|12ab|1234/);
  });
});
