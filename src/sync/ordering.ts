/**
 * Sequencing of cloud commands, pure. Every command carries the cloud's per-panel sequence number
 * `seq`; the agent remembers the last one it applied and every command id it has seen.
 *
 * - an id seen before                  -> duplicate: re-ack the stored outcome, apply nothing
 * - seq <= last (a new id)             -> replayed: that number was used by another command
 * - seq == last + 1                    -> apply
 * - seq  > last + 1, a snapshot        -> apply: a snapshot converges whatever was missed
 * - seq  > last + 1, anything else     -> gap: commands are missing; ask for a resync, apply nothing
 */
export type Sequencing = "apply" | "duplicate" | "replayed" | "gap";

export function sequence(lastSeq: number, seq: number, seenBefore: boolean, isSnapshot: boolean): Sequencing {
  if (seenBefore) return "duplicate";
  if (seq <= lastSeq) return "replayed";
  if (seq === lastSeq + 1 || isSnapshot) return "apply";
  return "gap";
}
