import { createHmac, randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Db, Queryable } from "./db.js";

/**
 * Webhooks, durable: each delivery is a row (`webhook_deliveries`) written in the transaction of
 * what caused it (an event stored, an account action), then POSTed by whichever worker claims it,
 * retried with exponential backoff until the receiver answers 2xx or `maxAttempts` is spent. A
 * worker that dies mid-delivery leaves the row claimed for `claimMs`; then another retries it, so
 * a receiver may see a delivery twice and must dedupe by its `id` (at-least-once).
 *
 * Two hooks (documented in src/fleet/README.md):
 * - notification: duress, dealer access granted / revoked / session started, a dealer's request
 *   (with the one-time link the Master opens in the console).
 * - account: the customer application's account system: reset a password (it sends the OTP
 *   email), remove an account. The fleet never holds a customer's password.
 *
 * Body: `{ id, hook, event, at, data }`; headers `X-Fleet-Event`, `X-Fleet-Delivery` and, with a
 * secret, `X-Fleet-Signature: sha256=<hex HMAC-SHA256 of the body>`.
 */
export type Hook = "notification" | "account";

export interface WebhookConfig {
  notificationUrl?: string;
  accountUrl?: string;
  /** HMAC key for X-Fleet-Signature. */
  secret?: string;
  /** Attempts before a delivery is given up as `failed` (default 12). */
  maxAttempts?: number;
  /** The first retry's delay; doubled at each attempt, at most 1 h (default 2 s). */
  baseDelayMs?: number;
  /** How long a claimed delivery is left to its worker before another may retry it (default 60 s). */
  claimMs?: number;
  /** How often due deliveries are looked for (default 500 ms). */
  pollMs?: number;
}

export function hookConfigured(config: WebhookConfig, hook: Hook): boolean {
  return Boolean(hook === "notification" ? config.notificationUrl : config.accountUrl);
}

/** Writes one delivery (in the caller's transaction). Never put a code or a tag id in `data`. */
export async function enqueueDelivery(q: Queryable, hook: Hook, event: string, data: Record<string, unknown>): Promise<string> {
  const id = randomUUID();
  await q.query("INSERT INTO webhook_deliveries (id, hook, event, payload) VALUES ($1, $2, $3, $4)", [id, hook, event, JSON.stringify({ id, hook, event, at: new Date().toISOString(), data })]);
  return id;
}

export interface DeliveryView {
  id: string;
  hook: Hook;
  event: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  lastError: string | null;
}

export async function deliveries(q: Queryable): Promise<DeliveryView[]> {
  const r = await q.query("SELECT id, hook, event, status, attempts, last_error FROM webhook_deliveries ORDER BY created_at, id");
  return r.rows.map((x) => ({ id: String(x.id), hook: x.hook as Hook, event: String(x.event), status: x.status as DeliveryView["status"], attempts: Number(x.attempts), lastError: (x.last_error as string | null) ?? null }));
}

export class WebhookDeliverer {
  readonly #db: Db;
  readonly #config: Required<Omit<WebhookConfig, "notificationUrl" | "accountUrl" | "secret">> & WebhookConfig;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(db: Db, config: WebhookConfig, logger: Logger) {
    this.#db = db;
    this.#config = { maxAttempts: 12, baseDelayMs: 2000, claimMs: 60_000, pollMs: 500, ...config };
    this.#log = logger;
  }

  start(): void {
    this.#schedule(0);
  }

  kick(): void {
    if (!this.#running) this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#round()
        .catch((err: unknown) => this.#log.error({ err: (err as Error).message }, "webhook round failed"))
        .finally(() => {
          this.#running = undefined;
          this.#schedule(this.#config.pollMs);
        });
    }, ms);
  }

  /** Claims due deliveries (SKIP LOCKED: two workers never claim the same row at once) and sends them. */
  async #round(): Promise<void> {
    const r = await this.#db.query(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = now() + ($1::int * interval '1 millisecond')
       WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_at <= now() ORDER BY next_at LIMIT 20 FOR UPDATE SKIP LOCKED)
       RETURNING id, hook, event, payload, attempts`,
      [this.#config.claimMs],
    );
    await Promise.all(r.rows.map((row) => this.#deliver(row)));
  }

  async #deliver(row: Record<string, unknown>): Promise<void> {
    const id = String(row.id);
    const hook = row.hook as Hook;
    const attempts = Number(row.attempts);
    const url = hook === "notification" ? this.#config.notificationUrl : this.#config.accountUrl;
    const body = JSON.stringify(row.payload);
    let error: string | null = null;
    if (!url) error = "no URL configured for this hook";
    else {
      try {
        const headers: Record<string, string> = { "content-type": "application/json", "x-fleet-event": String(row.event), "x-fleet-delivery": id };
        if (this.#config.secret) headers["x-fleet-signature"] = `sha256=${createHmac("sha256", this.#config.secret).update(body).digest("hex")}`;
        const res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) error = `HTTP ${res.status}`;
      } catch (err) {
        error = (err as Error).message.slice(0, 200);
      }
    }
    if (error === null) {
      // A one-time link is a credential: once sent, the row keeps that there was one, not the link.
      await this.#db.query(
        `UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), last_error = NULL,
           payload = CASE WHEN payload->'data' ? 'link' THEN jsonb_set(payload, '{data,link}', '"[sent]"') ELSE payload END
         WHERE id = $1`,
        [id],
      );
      this.#log.info({ delivery: id, hook, event: row.event, attempts }, "webhook delivered");
      return;
    }
    const giveUp = attempts >= this.#config.maxAttempts;
    const delay = Math.min(this.#config.baseDelayMs * 2 ** (attempts - 1), 3600_000);
    await this.#db.query("UPDATE webhook_deliveries SET status = $2, last_error = $3, next_at = now() + ($4::int * interval '1 millisecond') WHERE id = $1", [id, giveUp ? "failed" : "pending", error, delay]);
    this.#log.warn({ delivery: id, hook, event: row.event, attempts, error, retryInMs: giveUp ? null : delay }, giveUp ? "webhook given up" : "webhook failed; will retry");
  }
}
