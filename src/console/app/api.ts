/**
 * The console's one way to the API (same origin, /api/v1). Cookie session; every non-GET carries
 * the session's CSRF token. A refusal becomes an ApiError with the API's stable code and its
 * sentence, which the screens show as they are.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
let onSignedOut: ((e: ApiError) => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the API says the session is gone (expired, or signed out elsewhere). */
export function whenSignedOut(fn: (e: ApiError) => void): void {
  onSignedOut = fn;
}

export async function api<T>(method: string, path: string, body?: unknown, opts: { quietAuth?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, credentials: "same-origin", cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network_error", "The console cannot reach panel-fleet. Check the connection and try again.");
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, "bad_response", `panel-fleet answered ${res.status} with something that is not JSON.`);
    }
  }
  if (!res.ok) {
    const err = (parsed as { error?: { code?: string; message?: string; detail?: Record<string, unknown> } } | undefined)?.error;
    const e = new ApiError(res.status, err?.code ?? "http_error", err?.message ?? `panel-fleet answered ${res.status}.`, err?.detail);
    if (!opts.quietAuth && res.status === 401 && (e.code === "not_signed_in" || e.code === "session_expired")) onSignedOut?.(e);
    throw e;
  }
  return parsed as T;
}

/**
 * GETs started before they are asked for: at start-up the first screen's data is fetched while the
 * session is being checked, instead of after it. Each is used once, within a few seconds; a
 * failed one (not signed in) is forgotten and the screen asks again itself.
 */
const prefetched = new Map<string, { at: number; promise: Promise<unknown> }>();
export function prefetch(path: string): void {
  const promise = preloaded(path);
  promise.catch(() => prefetched.delete(path));
  prefetched.set(path, { at: Date.now(), promise });
}

/**
 * A GET made the way the page's own <link rel=preload as=fetch crossorigin=use-credentials>
 * (src/console/serve.ts) is reused by the browser: same URL, CORS mode, credentials included, the
 * default cache mode and no extra header. Answers as api() does (quietly on a 401).
 */
async function preloaded(path: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { credentials: "include" });
  } catch {
    throw new ApiError(0, "network_error", "The console cannot reach panel-fleet. Check the connection and try again.");
  }
  const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string; detail?: Record<string, unknown> } } | undefined;
  if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? "http_error", body?.error?.message ?? `panel-fleet answered ${res.status}.`, body?.error?.detail);
  return body;
}

export function get<T>(path: string, opts?: { quietAuth?: boolean }): Promise<T> {
  const early = prefetched.get(path);
  if (early) {
    prefetched.delete(path);
    if (Date.now() - early.at < 5_000) return (early.promise as Promise<T>).catch(() => api<T>("GET", path, undefined, opts));
  }
  return api<T>("GET", path, undefined, opts);
}
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const put = <T>(path: string, body: unknown) => api<T>("PUT", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);

/** The sentence to show for any failure. */
export function sentence(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  return "Something went wrong in the console. Reload the page and try again.";
}

export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;
