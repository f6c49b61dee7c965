import { describe, expect, it } from "vitest";
import { encodeCbor } from "../../protocol/index.js";
import { captureSources } from "./crash.js";
import { secretHits, type MqttCapture } from "./harness.js";

describe("secrets scan", () => {
  it("finds a code as JSON text, a CBOR text string and a log word, and ignores numbers, digests and ids", () => {
    const noise = Buffer.from('{"at":17955804441234,"version":4821,"id":"c4821x","d":"ab4821cd","added":[4821],"boot":"068931ee-5180-4821-b848-0bb5b9e3e7b6"}');
    expect(secretHits(["4821"], [{ name: "noise", bytes: noise }]).hits).toBe(0);
    const leaks = Buffer.concat([Buffer.from('{"code":"4821"}'), Buffer.from([0x64]), Buffer.from("4821"), Buffer.from([0xa0]), Buffer.from(" code 4821 set")]);
    expect(secretHits(["4821"], [{ name: "leaks", bytes: leaks }]).hits).toBe(3);
  });

  it("reads the MQTT capture through CBOR: a code in any text (also inside a signed body) is found, framing bytes are not", () => {
    const capture = (payloads: Buffer[]) => ({ payloads: payloads.map((payload) => ({ topic: "panels/p/evt", payload })) }) as unknown as MqttCapture;
    // a status whose timestamp's low bytes read "1604", a state whose hex digest ends in "d1604"
    const framing = [encodeCbor({ t: "status", at: 0x000001a231363034 }), encodeCbor({ t: "state", digest: "e5762efd1604" })];
    expect(secretHits(["1604"], captureSources(capture(framing))).hits).toBe(0);
    const leaks = [encodeCbor({ error: { detail: { why: "code 1604 in use" } } }), encodeCbor({ body: encodeCbor({ cmd: { code: "1604" } }) })];
    expect(secretHits(["1604"], captureSources(capture(leaks))).hits).toBe(2);
  });
});
