import { timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { Logger } from "pino";
import { inUnitOfWork } from "../unit-of-work.js";
import { logActions, type ActionEntry } from "../action-log.js";
import type { Db } from "../db.js";
import { FleetError } from "../errors.js";
import type { Guard, Request } from "../http/server.js";
import { csrfTokenFor, type AuthStore } from "./auth-store.js";
import type { Principal } from "./permissions.js";

export const SESSION_COOKIE = "fleet_session";

export function cookie(headers: IncomingHttpHeaders, name: string): string | undefined {
  for (const part of (headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Authenticates a request: `Authorization: Bearer <api token>` (API clients, no CSRF), or the
 * `fleet_session` cookie, whose every non-GET request must carry `X-CSRF-Token` (the session's
 * CSRF token): a cross-site form or fetch sends the cookie but cannot know the header.
 */
export function sessionGuard(auth: AuthStore, db: Db, logger: Logger): Guard {
  return {
    async authenticate(req: Request): Promise<Principal> {
      const authorization = req.headers.authorization;
      if (authorization !== undefined) {
        const m = /^Bearer\s+(\S+)$/i.exec(authorization);
        if (!m) throw new FleetError("not_signed_in");
        return auth.tokenPrincipal(m[1]!);
      }
      const token = cookie(req.headers, SESSION_COOKIE);
      if (!token) throw new FleetError("not_signed_in");
      const principal = await auth.sessionPrincipal(token);
      if (req.method !== "GET" && req.method !== "HEAD") {
        const header = req.headers["x-csrf-token"];
        if (typeof header !== "string" || !sameText(header, csrfTokenFor(token))) throw new FleetError("csrf_failed");
      }
      return principal;
    },
    async record(_principal, entries: ActionEntry[]): Promise<void> {
      try {
        await logActions(db, entries);
      } catch (err) {
        // In a unit of work the entries commit with the change or neither does: the failure is the call's.
        if (inUnitOfWork()) throw err;
        logger.error({ err: (err as Error).message, actions: entries.length }, "action log entries not written");
      }
    },
  };
}

/** The session cookie: HttpOnly (no script reads it), SameSite=Strict (no cross-site request carries it), Secure behind https. */
export function sessionCookie(token: string, maxAgeMs: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure ? "; Secure" : ""}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? "; Secure" : ""}`;
}
