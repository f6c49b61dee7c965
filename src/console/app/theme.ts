/**
 * Light and dark themes. With no choice made the stylesheet follows prefers-color-scheme; a choice
 * from the toggle is remembered in localStorage (the only thing the console keeps there).
 */
import { h, icon } from "./dom.js";

const KEY = "panel-fleet-console.theme";
type Theme = "light" | "dark";

function stored(): Theme | null {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : null;
  } catch {
    return null;
  }
}

export function currentTheme(): Theme {
  const explicit = document.documentElement.dataset.theme;
  if (explicit === "light" || explicit === "dark") return explicit;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyStoredTheme(): void {
  const t = stored();
  if (t) document.documentElement.dataset.theme = t;
}

export function setTheme(t: Theme): void {
  document.documentElement.dataset.theme = t;
  try {
    localStorage.setItem(KEY, t);
  } catch {
    // private mode: the choice lasts for this page only
  }
}

function paint(button: HTMLButtonElement): void {
  const dark = currentTheme() === "dark";
  button.setAttribute("aria-pressed", String(dark));
  button.setAttribute("aria-label", "Dark theme");
  button.title = dark ? "Switch to the light theme" : "Switch to the dark theme";
  button.replaceChildren(icon(dark ? "moon" : "sun"));
}

// One listener for the page: a change of the system's scheme repaints whichever toggle is shown.
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  for (const b of document.querySelectorAll<HTMLButtonElement>(".theme-toggle")) paint(b);
});

export function themeToggle(): HTMLButtonElement {
  const button = h("button", { type: "button", class: "icon-button theme-toggle" });
  button.addEventListener("click", () => {
    setTheme(currentTheme() === "dark" ? "light" : "dark");
    paint(button);
  });
  paint(button);
  return button;
}
