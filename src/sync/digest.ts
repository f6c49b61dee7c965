import { createHash } from "node:crypto";
import { slotView, type PanelTable, type Slot } from "../domain/index.js";

/**
 * The retained state's `digest`: SHA-256 over the non-secret view (without versions) of the users
 * with a code, in slot order (protocol/README.md section 7). Content only: versions count
 * history, and two tables with the same users must agree.
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
    let chunk = "";
    for (const n of table.activeSlotNumbers()) {
      const slot = table.slot(n);
      let text = this.#texts.get(slot);
      if (text === undefined) {
        const { version: _version, ...content } = slotView(slot);
        text = JSON.stringify(content);
        this.#texts.set(slot, text);
      }
      chunk += text;
      if (chunk.length > 65_536) {
        hash.update(chunk);
        chunk = "";
      }
    }
    hash.update(chunk);
    this.#version = tableVersion;
    this.#digest = hash.digest("hex");
    return this.#digest;
  }
}
