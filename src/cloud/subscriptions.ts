/**
 * The filters a cloud client wants, kept by the client rather than by mqtt.js, and retried until
 * the broker grants them.
 *
 * Why: a broker may refuse a subscription (SUBACK 0x80). nats-server does so while its JetStream
 * cluster elects leaders after a node went down ("Unable to add JetStream consumer"), and mqtt.js
 * then drops every filter of that request from its own resubscribe list: the client would never
 * hear that panel's acks again. Here a refused filter is tried again while connected (0.5 s,
 * doubling to 30 s) and every wanted filter is subscribed again on a connect without a session.
 */
import type { ISubscriptionGrant, MqttClient } from "mqtt";

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
/** SUBACK return codes of 0x80 and above are refusals (MQTT 3.1.1: 0x80; MQTT 5: 0x80..0xA2). */
const REFUSED = 0x80;

export interface SubscriptionsHost {
  client(): MqttClient | undefined;
  closed(): boolean;
  /** A filter was refused; it is retried after `retryMs`. */
  refused(filter: string, retryMs: number, reason: string): void;
  /** Filters refused before are granted now (one call per broker answer): what was published meanwhile may have been answered unheard. */
  grantedLate(filters: string[]): void;
}

export class Subscriptions {
  readonly #host: SubscriptionsHost;
  readonly #wanted = new Set<string>();
  readonly #granted = new Set<string>();
  /** Callers waiting for a filter's first answer (granted or refused). */
  readonly #waiters = new Map<string, (() => void)[]>();
  readonly #retryMs = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(host: SubscriptionsHost) {
    this.#host = host;
  }

  /**
   * Wants `filters` from now on. Resolves at the broker's first answer for all of them, granted or
   * refused (a refused one keeps being retried): a caller waits for the subscription, not forever.
   */
  add(filters: readonly string[]): Promise<void> {
    const fresh = filters.filter((f) => !this.#wanted.has(f));
    for (const f of fresh) this.#wanted.add(f);
    const open = filters.filter((f) => !this.#granted.has(f) && (fresh.includes(f) || this.#waiters.has(f)));
    const answered = Promise.all(open.map((f) => new Promise<void>((resolve) => this.#waiters.set(f, [...(this.#waiters.get(f) ?? []), resolve])))).then(() => {});
    const client = this.#host.client();
    if (client?.connected && fresh.length > 0) this.#subscribe(client, fresh);
    return answered;
  }

  /** A connect: without a session at the broker every wanted filter is subscribed again; with one, those not yet granted. */
  connected(client: MqttClient, sessionPresent: boolean): void {
    if (!sessionPresent) this.#granted.clear();
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    const todo = [...this.#wanted].filter((f) => !this.#granted.has(f));
    if (todo.length > 0) this.#subscribe(client, todo);
  }

  close(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    for (const list of this.#waiters.values()) for (const w of list) w();
    this.#waiters.clear();
  }

  #subscribe(client: MqttClient, filters: string[]): void {
    client.subscribe(filters, { qos: 1 }, (err, granted) => {
      if (this.#host.closed()) return;
      const refused = new Map<string, string>();
      const late: string[] = [];
      if (err) for (const f of filters) refused.set(f, err.message);
      else {
        const byTopic = new Map((granted ?? []).map((g: ISubscriptionGrant) => [g.topic, g.qos]));
        for (const f of filters) {
          const qos = byTopic.get(f);
          if (qos === undefined || qos >= REFUSED) refused.set(f, `suback ${qos ?? "missing"}`);
          else {
            this.#granted.add(f);
            // A retry delay on record means the filter was refused before.
            if (this.#retryMs.delete(f)) late.push(f);
          }
        }
      }
      if (late.length > 0) this.#host.grantedLate(late);
      for (const [f, reason] of refused) this.#retry(f, reason);
      for (const f of filters) this.#answer(f);
    });
  }

  #retry(filter: string, reason: string): void {
    const ms = this.#retryMs.get(filter) ?? FIRST_RETRY_MS;
    this.#retryMs.set(filter, Math.min(MAX_RETRY_MS, ms * 2));
    this.#host.refused(filter, ms, reason);
    clearTimeout(this.#timers.get(filter));
    const timer = setTimeout(() => {
      this.#timers.delete(filter);
      const client = this.#host.client();
      // Not connected: the next connect subscribes every filter not granted.
      if (!this.#host.closed() && client?.connected && !this.#granted.has(filter)) this.#subscribe(client, [filter]);
    }, ms);
    timer.unref();
    this.#timers.set(filter, timer);
  }

  #answer(filter: string): void {
    const list = this.#waiters.get(filter);
    if (!list) return;
    this.#waiters.delete(filter);
    for (const w of list) w();
  }
}
