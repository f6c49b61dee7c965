/** Who is signed in, and what their role's permissions let the screens show. */
export type Permission = "view_equipment" | "view_panel_users" | "manage_panel_users" | "manage_accounts" | "view_action_log" | "manage_api_users";

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: string;
  permissions: Permission[];
}

export interface SessionBody {
  user: SessionUser;
  csrfToken: string;
}

let user: SessionUser | null = null;

export function setUser(u: SessionUser | null): void {
  user = u;
}
export function signedIn(): SessionUser | null {
  return user;
}
/** The screens leave out what the role cannot do; the API refuses it anyway. */
export function can(p: Permission): boolean {
  return user?.permissions.includes(p) ?? false;
}
