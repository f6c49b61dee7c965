import { describe, expect, it } from "vitest";
import { secretHits } from "./harness.js";

describe("secrets scan", () => {
  it("finds a code as JSON text, a CBOR text string and a log word, and ignores numbers, digests and ids", () => {
    const noise = Buffer.from('{"at":17955804441234,"version":4821,"id":"c4821x","d":"ab4821cd","added":[4821],"boot":"068931ee-5180-4821-b848-0bb5b9e3e7b6"}');
    expect(secretHits(["4821"], [{ name: "noise", bytes: noise }]).hits).toBe(0);
    const leaks = Buffer.concat([Buffer.from('{"code":"4821"}'), Buffer.from([0x64]), Buffer.from("4821"), Buffer.from([0xa0]), Buffer.from(" code 4821 set")]);
    expect(secretHits(["4821"], [{ name: "leaks", bytes: leaks }]).hits).toBe(3);
  });
});
