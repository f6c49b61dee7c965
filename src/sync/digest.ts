import { createHash } from "node:crypto";
import { slotDigestText } from "../../protocol/digest.js";
import { slotView, type PanelTable, type Slot } from "../domain/index.js";

/**
 * The retained state's `digest` (protocol/README.md section 7.1, protocol/digest.ts): SHA-256
 * over the RFC 8785 canonical JSON array of the views (without versions) of the users with a
 * code, in slot order. Content only: versions count history, and two tables with the same users
 * must agree; canonical JSON so a cloud in any language computes it from its own copy.
 *
 * The state is republished every 250 ms while commands stream in; serialising 10k slot views each
 * time took 30-50 ms of the event loop (keypad checks wait meanwhile). Slots are immutable values
 * (a change replaces the object), so each one's text is kept until it is replaced, and the digest
 * itself until the table version moves.
 */
export class TableDigest {
  readonly #texts = new WeakMap<Slot, string>();
  #version = -1;
  #digest = "";

  of(table: PanelTable, tableVersion: number): string {
    if (tableVersion === this.#version) return this.#digest;
    const hash = createHash("sha256");
    // hashed in chunks of many slots: one native call per slot cost as much as the hashing
    let chunk = "[";
    let first = true;
    for (const n of table.activeSlotNumbers()) {
      const slot = table.slot(n);
      let text = this.#texts.get(slot);
      if (text === undefined) {
        text = slotDigestText(slotView(slot));
        this.#texts.set(slot, text);
      }
      chunk += first ? text : "," + text;
      first = false;
      if (chunk.length > 65_536) {
        hash.update(chunk, "utf8");
        chunk = "";
      }
    }
    hash.update(chunk + "]", "utf8");
    this.#version = tableVersion;
    this.#digest = hash.digest("hex");
    return this.#digest;
  }
}
