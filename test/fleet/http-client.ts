/** A JSON client for the fleet's API that keeps every response body (scanned for codes). */
export class ApiClient {
  readonly traffic: { method: string; path: string; status: number; text: string }[] = [];

  constructor(readonly base: string) {}

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(this.base + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    this.traffic.push({ method, path, status: res.status, text });
    return { status: res.status, body: JSON.parse(text) as T };
  }

  get = <T = Record<string, unknown>>(path: string) => this.call<T>("GET", path);
  post = <T = Record<string, unknown>>(path: string, body: unknown) => this.call<T>("POST", path, body);
  put = <T = Record<string, unknown>>(path: string, body: unknown) => this.call<T>("PUT", path, body);
}
