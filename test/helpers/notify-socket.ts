import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

/**
 * The receiving end of sd_notify, as systemd holds it: a Unix datagram socket. Node cannot bind
 * one, so a small python3 process does and prints each datagram as a JSON line.
 */
const RECEIVER = `
import json, os, socket, sys, time
parent = os.getppid()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.5)
print(json.dumps({"bound": True}), flush=True)
while os.getppid() == parent:  # ends with the process that started it, even after a SIGKILL
    try:
        data = s.recv(65536)
    except socket.timeout:
        continue
    print(json.dumps({"at": time.monotonic() * 1000, "text": data.decode("utf-8", "replace")}), flush=True)
`;

export interface Notification {
  /** Monotonic ms (the receiver's clock: compare intervals only). */
  at: number;
  /** Each `KEY=value` line of the datagram. */
  fields: Record<string, string>;
}

export class NotifySocket {
  readonly path: string;
  readonly received: Notification[] = [];
  #proc: ChildProcess | undefined;

  constructor(dir: string) {
    this.path = join(dir, "notify.sock");
  }

  async start(): Promise<this> {
    const proc = spawn("python3", ["-c", RECEIVER, this.path], { stdio: ["ignore", "pipe", "inherit"] });
    this.#proc = proc;
    await new Promise<void>((resolve, reject) => {
      let buffer = "";
      proc.once("error", reject);
      proc.once("exit", (code) => reject(new Error(`notify receiver exited ${code}`)));
      proc.stdout.on("data", (d: Buffer) => {
        buffer += d.toString();
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const msg = JSON.parse(buffer.slice(0, nl)) as { bound?: boolean; at?: number; text?: string };
          buffer = buffer.slice(nl + 1);
          if (msg.bound) resolve();
          else this.received.push({ at: msg.at!, fields: Object.fromEntries(msg.text!.split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])) });
        }
      });
    });
    return this;
  }

  /** Notifications that set `key` (READY, WATCHDOG, STOPPING ...). */
  with(key: string): Notification[] {
    return this.received.filter((n) => key in n.fields);
  }

  stop(): void {
    this.#proc?.kill("SIGKILL");
  }
}
