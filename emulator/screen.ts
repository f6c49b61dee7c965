import { printable } from "./client.js";

/** Everything the interactive keypad shows; `renderScreen` turns it into terminal text. */
export interface ScreenState {
  keypad: string;
  socket: string;
  /** Assigned partitions and the selected one (0 = all). */
  partitions: number[];
  selected: number;
  line1: string;
  line2: string;
  /** The last key pressed (highlighted), by emulator key name. */
  lastKey: string | null;
  /** A local prompt (tag id, door lock id): label and how many characters typed / the text. */
  prompt: { label: string; shown: string } | null;
  /** Waiting for a partition digit after `P`. */
  partitionMode: boolean;
  /** Connection and protocol messages. */
  note: string;
}

const WIDTH = 52;
const INVERSE = "\x1b[7m";
const RESET = "\x1b[0m";

function pad(text: string, width: number): string {
  const t = printable(text);
  return t.length > width ? t.slice(0, width) : t + " ".repeat(width - t.length);
}

function key(label: string, name: string, last: string | null, width = 5): string {
  const body = `[${pad(` ${label}`, width - 2)}]`;
  return name === last ? `${INVERSE}${body}${RESET}` : body;
}

/** The whole screen, drawn from the top-left corner (clears first). */
export function renderScreen(s: ScreenState): string {
  const sel = s.selected === 0 ? "all" : `P${s.selected}`;
  const lines = [
    ` panel-agent keypad ${printable(s.keypad)}   partitions ${s.partitions.join(",")}   acting on ${sel}`,
    ` ┌${"─".repeat(WIDTH)}┐`,
    ` │ ${pad(s.line1, WIDTH - 2)} │`,
    ` │ ${pad(s.line2, WIDTH - 2)} │`,
    ` └${"─".repeat(WIDTH)}┘`,
    "",
    `   ${key("1", "1", s.lastKey)} ${key("2", "2", s.lastKey)} ${key("3", "3", s.lastKey)}     ${key("Stay       s", "stay", s.lastKey, 16)}`,
    `   ${key("4", "4", s.lastKey)} ${key("5", "5", s.lastKey)} ${key("6", "6", s.lastKey)}     ${key("Away       a", "away", s.lastKey, 16)}`,
    `   ${key("7", "7", s.lastKey)} ${key("8", "8", s.lastKey)} ${key("9", "9", s.lastKey)}     ${key("Disarm     d", "disarm", s.lastKey, 16)}`,
    `   ${key("*", "*", s.lastKey)} ${key("0", "0", s.lastKey)} ${key("#", "#", s.lastKey)}     ${key("Chime/Prog p", "prog", s.lastKey, 16)}`,
    "",
    " Keys: 0-9 * #  (Enter = #)   s arm stay   a arm away   d disarm   p prog/chime (*5)",
    "       t present a tag   o open a door lock   P then 0-8, or [ ], switch partition   q quit",
    " Menus: *5 + Master/Supervisor code: user programming   *6 + Master code: dealer access",
    "",
    s.prompt ? ` ${printable(s.prompt.label)}: ${printable(s.prompt.shown)}_   (Enter sends, Esc cancels)` : s.partitionMode ? " Partition: press 1-8, or 0 for all" : "",
    ` ${printable(s.note)}`,
  ];
  return `\x1b[H\x1b[2J${lines.join("\r\n")}`;
}
