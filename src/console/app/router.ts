/** Path routing (History API); panel-fleet serves index.html for every path outside /api/. */
export interface ScreenContext {
  main: HTMLElement;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Aborted when the person leaves the screen: pollers and timers stop. */
  signal: AbortSignal;
}
export type Screen = (ctx: ScreenContext) => Promise<void> | void;

interface Route {
  parts: string[];
  screen: Screen;
  public?: boolean;
}

const routes: Route[] = [];
let render: ((path: string) => void) | null = null;

export function route(pattern: string, screen: Screen, opts: { public?: boolean } = {}): void {
  routes.push({ parts: pattern.split("/").filter(Boolean), screen, public: opts.public ?? false });
}

export function match(pathname: string): { screen: Screen; params: Record<string, string>; public: boolean } | null {
  const parts = pathname.split("/").filter(Boolean);
  for (const r of routes) {
    if (r.parts.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const want = r.parts[i]!;
      if (want.startsWith(":")) {
        try {
          params[want.slice(1)] = decodeURIComponent(parts[i]!);
        } catch {
          ok = false;
        }
      } else ok = want === parts[i];
    }
    if (ok) return { screen: r.screen, params, public: r.public ?? false };
  }
  return null;
}

export function onNavigate(fn: (path: string) => void): void {
  render = fn;
  window.addEventListener("popstate", () => fn(location.pathname + location.search));
}

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render?.(path);
}

/** A same-origin link that routes without reloading the page. */
export function linkHandler(ev: MouseEvent): void {
  const a = (ev.target as Element | null)?.closest("a");
  if (!a || a.target || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const href = a.getAttribute("href");
  if (!href || !href.startsWith("/") || href.startsWith("/api/")) return;
  ev.preventDefault();
  navigate(href);
}
