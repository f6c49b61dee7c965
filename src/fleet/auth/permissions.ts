/**
 * Who may do what through the API, in one table. The permissions are the ones the Users tab of
 * seed doc 001 names, plus the administration of API users; a role is a set of them.
 */
export const PERMISSIONS = ["view_equipment", "view_panel_users", "manage_panel_users", "manage_accounts", "view_action_log", "manage_api_users"] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const API_ROLES = {
  admin: PERMISSIONS,
  installer: ["view_equipment", "view_panel_users", "manage_panel_users", "view_action_log"],
  support: ["view_equipment", "view_panel_users", "manage_accounts", "view_action_log"],
  viewer: ["view_equipment", "view_panel_users"],
} as const satisfies Record<string, readonly Permission[]>;
export type ApiRole = keyof typeof API_ROLES;
export const API_ROLE_NAMES = Object.keys(API_ROLES) as ApiRole[];

export function permissionsOf(role: string): readonly Permission[] {
  return (API_ROLES as Record<string, readonly Permission[]>)[role] ?? [];
}

export function roleAllows(role: string, permission: Permission): boolean {
  return permissionsOf(role).includes(permission);
}

/** Who is calling: an API user signed in by cookie or by bearer token. */
export interface Principal {
  userId: string;
  email: string;
  name: string;
  role: ApiRole;
  via: "session" | "token";
}
