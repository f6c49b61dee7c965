import { describe, expect, it } from "vitest";
import { decodeCbor, encodeCbor, scanCbor, decodeWith, envelopeSchema } from "../../../protocol/index.js";

const hex = (h: string) => Buffer.from(h.replace(/\s/g, ""), "hex");
const codeOf = (bytes: Uint8Array, opts?: Parameters<typeof decodeCbor>[1]) => {
  const r = decodeCbor(bytes, opts);
  return r.ok ? "ok" : r.error.code;
};
const reasonOf = (bytes: Uint8Array) => {
  const r = decodeCbor(bytes);
  return r.ok ? "ok" : r.error.detail?.reason;
};

describe("safe CBOR decoding", () => {
  it("decodes a plain map of the profile", () => {
    expect(decodeCbor(hex("a2 61 61 01 61 62 82 f5 f6"))).toEqual({ ok: true, value: { a: 1, b: [true, null] } });
  });

  it("refuses a payload over the byte cap before looking at it", () => {
    const r = decodeCbor(Buffer.alloc(2000, 0x01), { maxBytes: 1000 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.toJSON()).toMatchObject({ code: "payload_too_large", detail: { limit: 1000, size: 2000 } });
  });

  it("refuses empty, truncated and trailing input", () => {
    expect(codeOf(Buffer.alloc(0))).toBe("malformed_payload");
    expect(reasonOf(hex("a1 61 61"))).toBe("truncated");
    expect(reasonOf(hex("a2 61 61 01"))).toBe("length_exceeds_payload");
    expect(reasonOf(hex("19 01"))).toBe("truncated");
    expect(reasonOf(hex("01 02"))).toBe("trailing_bytes");
  });

  it("refuses a header claiming a 4 GB byte string without allocating it", () => {
    expect(reasonOf(hex("5a ffffffff 00"))).toBe("length_exceeds_payload");
    expect(reasonOf(hex("5b 00000001 00000000 00"))).toBe("length_exceeds_payload");
    expect(reasonOf(hex("7b ffffffff ffffffff"))).toBe("length_exceeds_payload");
  });

  it("refuses array and map counts larger than the bytes that follow", () => {
    expect(reasonOf(hex("9a 05f5e100 01"))).toBe("length_exceeds_payload");
    expect(reasonOf(hex("bb ffffffff ffffffff 00"))).toBe("length_exceeds_payload");
  });

  it("refuses 10,000 levels of nesting without overflowing the stack", () => {
    const deep = Buffer.concat([Buffer.alloc(10_000, 0x81), hex("01")]);
    expect(reasonOf(deep)).toBe("too_deep");
    const deepMaps = Buffer.concat([Buffer.alloc(10_000 * 3).fill(Buffer.from([0xa1, 0x61, 0x61])), hex("01")]);
    expect(reasonOf(deepMaps)).toBe("too_deep");
  });

  it("accepts nesting up to the configured depth", () => {
    const ok = Buffer.concat([Buffer.alloc(16, 0x81), hex("01")]);
    expect(codeOf(ok)).toBe("ok");
    expect(codeOf(ok, { maxDepth: 15 })).toBe("malformed_payload");
  });

  it.each(["__proto__", "constructor", "prototype"])("refuses the key %s", (key) => {
    const k = Buffer.from(key);
    const bytes = Buffer.concat([hex("a1"), Buffer.from([0x60 + k.length]), k, hex("a1 61 61 01")]);
    expect(reasonOf(bytes)).toBe("forbidden_key");
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });

  it("refuses duplicate keys, non-text keys, tags, indefinite lengths and undefined", () => {
    expect(reasonOf(hex("a2 61 61 01 61 61 02"))).toBe("duplicate_key");
    expect(reasonOf(hex("a1 01 02"))).toBe("non_text_map_key");
    expect(reasonOf(hex("c1 1a 5f000000"))).toBe("tag_not_allowed");
    expect(reasonOf(hex("d9 0102 83 01 02 03"))).toBe("tag_not_allowed");
    expect(reasonOf(hex("d8 1c a1 61 61 d8 1d 00"))).toBe("tag_not_allowed");
    expect(reasonOf(hex("9f 01 ff"))).toBe("indefinite_length");
    expect(reasonOf(hex("f7"))).toBe("simple_value_not_allowed");
    expect(reasonOf(hex("1c"))).toBe("reserved_additional_info");
  });

  it("detects duplicates in large maps too", () => {
    const entries = Array.from({ length: 40 }, (_, i) => Buffer.concat([hex("63"), Buffer.from(`k${String(i).padStart(2, "0")}`), hex("01")]));
    const dup = Buffer.concat([hex("b8 29"), ...entries, hex("63"), Buffer.from("k07"), hex("01")]);
    expect(reasonOf(dup)).toBe("duplicate_key");
    expect(scanCbor(Buffer.concat([hex("b8 28"), ...entries])).ok).toBe(true);
  });

  it("decodes 64-bit integers as numbers and refuses unsafe ones at the schema", () => {
    expect(decodeCbor(hex("1b 0000018bcfe56800"))).toEqual({ ok: true, value: 1_700_000_000_000 });
  });

  it("never throws on non-buffer input", () => {
    expect(codeOf("abc" as unknown as Uint8Array)).toBe("malformed_payload");
  });

  it("maps a schema failure to schema_violation with a path and never a value", () => {
    const bytes = encodeCbor({ v: 1, kid: "0011223344556677", body: Buffer.alloc(1), sig: Buffer.alloc(3) });
    const r = decodeWith(envelopeSchema, bytes);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.toJSON()).toMatchObject({ code: "schema_violation", detail: { path: "sig" } });
  });
});

describe("CBOR encoding", () => {
  it("writes large integers as CBOR integers, not floats", () => {
    expect(encodeCbor(1_700_000_000_000).toString("hex")).toBe("1b0000018bcfe56800");
    expect(encodeCbor(-5_000_000_000).toString("hex")).toBe("3b000000012a05f1ff");
  });

  it("drops undefined keys and writes byte strings untagged", () => {
    expect(encodeCbor({ a: undefined, b: new Uint8Array([1]) }).toString("hex")).toBe("a1616241" + "01");
  });

  it("keeps key order and leaves the value it encodes untouched when it must change something deep inside", () => {
    const value = { a: 1, b: { c: undefined, d: 2 ** 40, e: [1, { f: 2 ** 33 }] }, g: "x", h: undefined };
    const before = JSON.stringify(value);
    const r = decodeCbor(encodeCbor(value));
    expect(r.ok && Object.keys(r.value as object)).toEqual(["a", "b", "g"]);
    expect(r).toEqual({ ok: true, value: { a: 1, b: { d: 2 ** 40, e: [1, { f: 2 ** 33 }] }, g: "x" } });
    expect(JSON.stringify(value)).toBe(before);
    expect(value.b.d).toBe(2 ** 40);
  });

  it("round-trips through the safe decoder", () => {
    const value = { s: "x", n: [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32, 2 ** 40, -1, -25], b: Buffer.from("hi"), t: true, z: null };
    const r = decodeCbor(encodeCbor(value));
    expect(r).toEqual({ ok: true, value });
  });
});
