/** A JSON client for the fleet's API that keeps every response body (scanned for codes); signs in by cookie (with CSRF) or bearer token. */
export class ApiClient {
  readonly traffic: { method: string; path: string; status: number; text: string }[] = [];
  cookie: string | undefined;
  csrf: string | undefined;
  bearer: string | undefined;
  /** Send the CSRF header with cookie writes (false: to see the refusal). */
  sendCsrf = true;
  /** Gives up on a request after this long (a TimeoutError); 0: waits as long as fetch does (300 s for headers). */
  timeoutMs = 0;

  constructor(readonly base: string) {}

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const headers: Record<string, string> = { ...(body === undefined ? {} : { "content-type": "application/json" }) };
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    if (this.cookie) headers.cookie = this.cookie;
    if (this.cookie && this.csrf && this.sendCsrf && method !== "GET") headers["x-csrf-token"] = this.csrf;
    const res = await fetch(this.base + path, { method, headers: { ...headers, ...extra }, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body), ...(this.timeoutMs > 0 ? { signal: AbortSignal.timeout(this.timeoutMs) } : {}) });
    const text = await res.text();
    this.traffic.push({ method, path, status: res.status, text });
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  }

  /** Signs in by cookie; keeps the cookie and the CSRF token. */
  async signIn(email: string, password: string): Promise<{ status: number; body: Record<string, unknown>; setCookie: string | null }> {
    const r = await this.call<{ csrfToken: string }>("POST", "/api/v1/session", { email, password });
    const setCookie = r.headers.get("set-cookie");
    if (r.status === 200 && setCookie) {
      this.cookie = setCookie.split(";")[0];
      this.csrf = r.body.csrfToken;
    }
    return { status: r.status, body: r.body as unknown as Record<string, unknown>, setCookie };
  }

  get = <T = Record<string, unknown>>(path: string) => this.call<T>("GET", path);
  post = <T = Record<string, unknown>>(path: string, body?: unknown) => this.call<T>("POST", path, body);
  put = <T = Record<string, unknown>>(path: string, body: unknown) => this.call<T>("PUT", path, body);
  delete = <T = Record<string, unknown>>(path: string) => this.call<T>("DELETE", path);
}

export const TEST_ADMIN = { email: "admin@fleet.test", password: "correct horse battery staple" };

/** An API client signed in as the test admin. */
export async function adminClient(base: string): Promise<ApiClient> {
  const api = new ApiClient(base);
  const r = await api.signIn(TEST_ADMIN.email, TEST_ADMIN.password);
  if (r.status !== 200) throw new Error(`admin sign-in failed: ${r.status}`);
  return api;
}
