/**
 * The console's shell: sign-in, the navigation bar (by permission), the theme toggle, and the
 * screens by path. Every screen shows the API's own sentence when a call is refused.
 */
import { ApiError, del, get, post, prefetch, sentence, setCsrfToken, whenSignedOut } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { closeAllModals } from "./modal.js";
import { linkHandler, match, navigate, onNavigate, route } from "./router.js";
import { can, setUser, signedIn, type SessionBody } from "./session.js";
import { applyStoredTheme, themeToggle } from "./theme.js";
import { actionLogScreen } from "./screens/action-log.js";
import { dealerRequestScreen } from "./screens/dealer-request.js";
import { dealerScreen } from "./screens/dealer.js";
import { equipmentScreen } from "./screens/equipment.js";
import { peopleScreen } from "./screens/people.js";
import { newPersonScreen } from "./screens/person-new.js";
import { personScreen } from "./screens/person.js";
import { usersPagePath, usersScreen } from "./screens/users.js";

applyStoredTheme();

route("/", equipmentScreen);
route("/panels/:id", (ctx) => navigate(`/panels/${encodeURIComponent(ctx.params.id!)}/users`, { replace: true }));
route("/panels/:id/users", usersScreen);
route("/panels/:id/dealer", dealerScreen);
route("/people", peopleScreen);
route("/people/new", newPersonScreen);
route("/people/:id", personScreen);
route("/action-log", actionLogScreen);
// The Master opens this from the emailed link; the page asks for a sign-in only if the API does.
route("/dealer-requests/:token", dealerRequestScreen, { public: true });

const header = h("header", { class: "topbar" });
const main = h("main", { id: "main", class: "main", tabindex: "-1" });
const skip = h("a", { class: "skip-link", href: "#main" }, "Skip to content");
skip.addEventListener("click", (ev) => {
  ev.preventDefault();
  main.focus();
});
document.body.replaceChildren(h("div", { class: "app" }, skip, header, main));
document.addEventListener("click", linkHandler);

let screenAbort: AbortController | null = null;
let pendingNotice: string | null = null;
/** Who was signed in when a session ended under an open screen: the sign-in asks only for the password. */
let lastEmail = "";

function paintHeader(): void {
  const user = signedIn();
  const nav = user
    ? h(
        "nav",
        { class: "nav", "aria-label": "Main" },
        can("view_equipment") ? h("a", { href: "/", "data-nav": "equipment" }, "Equipment") : null,
        can("view_panel_users") ? h("a", { href: "/people", "data-nav": "users" }, "Users") : null,
        can("manage_panel_users") ? h("a", { href: "/people/new", "data-nav": "new-user" }, "New user") : null,
        can("view_action_log") ? h("a", { href: "/action-log", "data-nav": "action-log" }, "Action log") : null,
      )
    : null;
  const signOut = user ? h("button", { type: "button", class: "button subtle", onClick: () => void signOutNow() }, "Sign out") : null;
  replaceChildren(
    header,
    h("a", { class: "brand", href: "/" }, "panel-fleet"),
    nav,
    h("div", { class: "topbar-end" }, user ? h("span", { class: "whoami", title: user.email }, `${user.name || user.email} (${user.role})`) : null, themeToggle(), signOut),
  );
  const here = location.pathname;
  for (const a of header.querySelectorAll<HTMLAnchorElement>("nav a")) {
    const href = a.getAttribute("href")!;
    const current = href === "/" ? here === "/" || here.startsWith("/panels/") : href === "/people" ? here === "/people" || (here.startsWith("/people/") && here !== "/people/new") : here.startsWith(href);
    if (current) a.setAttribute("aria-current", "page");
  }
}

async function signOutNow(): Promise<void> {
  try {
    await del("/session");
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) {
      pendingNotice = sentence(e);
    }
  }
  setUser(null);
  setCsrfToken(null);
  lastEmail = "";
  closeAllModals();
  navigate("/");
}

function signInScreen(message: string | null): void {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, id: "signin-email" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, id: "signin-password" });
  const error = h("p", { class: "error", role: "alert", id: "signin-error" }, message ?? "");
  const submit = h("button", { type: "submit", class: "button primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to panel-fleet"),
    h("div", { class: "field" }, h("label", { for: email.id }, "Email"), email),
    h("div", { class: "field" }, h("label", { for: password.id }, "Password"), password),
    error,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    const body = { email: email.value.trim(), password: password.value };
    // The password leaves the page in this one request only.
    password.value = "";
    post<SessionBody>("/session", body)
      .then((s) => {
        setUser(s.user);
        setCsrfToken(s.csrfToken);
        void renderPath(location.pathname + location.search);
      })
      .catch((e) => {
        error.textContent = sentence(e);
        submit.disabled = false;
        password.focus();
      });
  });
  replaceChildren(main, form);
  if (lastEmail) {
    email.value = lastEmail;
    password.focus();
  } else email.focus();
}

async function renderPath(path: string): Promise<void> {
  screenAbort?.abort();
  closeAllModals();
  const abort = new AbortController();
  screenAbort = abort;
  const url = new URL(path, location.origin);
  const m = match(url.pathname);
  paintHeader();
  if (!m) {
    replaceChildren(main, h("section", { class: "card" }, h("h1", null, "Not found"), h("p", null, "There is no such page in the console. "), h("a", { href: "/" }, "Go to Equipment")));
    return;
  }
  if (!signedIn() && !m.public) {
    signInScreen(pendingNotice);
    pendingNotice = null;
    return;
  }
  main.dataset.screen = url.pathname.split("/")[1] || "equipment";
  replaceChildren(main, h("p", { class: "loading" }, "Loading…"));
  try {
    await m.screen({ main, params: m.params, query: url.searchParams, signal: abort.signal });
  } catch (e) {
    if (abort.signal.aborted) return;
    replaceChildren(main, h("section", { class: "card" }, h("p", { class: "error", role: "alert" }, sentence(e))));
  }
}

// A session that ends while a screen is open (it expired, or was ended on the server): the
// sign-in comes back with a sentence, on the same address, so signing in again returns the person
// to the screen they were on. Several calls may fail at once: the first one decides.
whenSignedOut((e) => {
  const was = signedIn();
  if (!was) return;
  lastEmail = was.email;
  setUser(null);
  setCsrfToken(null);
  pendingNotice = e.code === "session_expired" ? `${e.message} You will be back on this page after signing in.` : "You were signed out: the session was ended on the server. Sign in again to go on where you were.";
  void renderPath(location.pathname + location.search);
});

onNavigate((path) => void renderPath(path));

// A screen left open in a background tab (no poll on it) finds out its session has ended when the
// person comes back to it, not at their next click: the sign-in then shows at once.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && signedIn()) void get("/session").catch(() => undefined);
});

async function start(): Promise<void> {
  // Opened on a Users tab (a bookmark, a reload): its data is fetched while the session is checked.
  const users = match(location.pathname);
  if (users?.screen === usersScreen) {
    // the page preloads both (src/console/serve.ts): these take its answers
    prefetch("/session");
    prefetch(usersPagePath(users.params.id!, new URLSearchParams(location.search)));
  }
  try {
    const s = await get<SessionBody>("/session", { quietAuth: true });
    setUser(s.user);
    setCsrfToken(s.csrfToken);
  } catch (e) {
    // not signed in is the ordinary start; anything else (an API without sessions, the server
    // down) is said on the sign-in screen as the API put it.
    if (!(e instanceof ApiError && e.status === 401 && e.code === "not_signed_in")) pendingNotice = sentence(e);
  }
  await renderPath(location.pathname + location.search);
}

void start();
