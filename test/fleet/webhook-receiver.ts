import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A real local HTTP receiver for the fleet's webhooks: records every POST, answers 500 to the first `failFirst` attempts of each delivery. */
export class WebhookReceiver {
  readonly received: { event: string; delivery: string; signature: string | undefined; body: { id: string; hook?: string; event: string; data: Record<string, unknown> } }[] = [];
  readonly attempts = new Map<string, number>();
  /** When each attempt of a delivery arrived (ms). */
  readonly times = new Map<string, number[]>();
  failFirst = 0;
  #server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as WebhookReceiver["received"][number]["body"];
        const n = (this.attempts.get(body.id) ?? 0) + 1;
        this.attempts.set(body.id, n);
        this.times.set(body.id, [...(this.times.get(body.id) ?? []), Date.now()]);
        if (n <= this.failFirst) {
          res.writeHead(500).end("not yet");
          return;
        }
        this.received.push({ event: String(req.headers["x-fleet-event"]), delivery: String(req.headers["x-fleet-delivery"]), signature: req.headers["x-fleet-signature"] as string | undefined, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
    return this;
  }

  of(event: string) {
    return this.received.filter((r) => r.event === event);
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
