import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Db } from "../db.js";
import { FleetError } from "../errors.js";
import { DUMMY_HASH, hashPassword, verifyPassword } from "./passwords.js";
import { API_ROLE_NAMES, permissionsOf, type ApiRole, type Principal } from "./permissions.js";

export interface SessionPolicy {
  /** A session unused for this long ends (default 30 min). */
  idleMs: number;
  /** A session ends this long after sign-in, used or not (default 12 h). */
  absoluteMs: number;
}
export const DEFAULT_SESSION_POLICY: SessionPolicy = { idleMs: 30 * 60_000, absoluteMs: 12 * 3600_000 };

/**
 * How stale a session's `last_seen_at` may get before a call touches it: a 60th of the idle time, at
 * most 30 s. Touching at every call made concurrent calls of one session queue on its row lock (8 API
 * clients of one session: 3.7 ms a call in the fleet bench); this way a session in use is written
 * about once per interval, and ends at most that much earlier than its exact idle time.
 */
export function sessionTouchMs(policy: SessionPolicy): number {
  return Math.min(30_000, Math.floor(policy.idleMs / 60));
}

export interface ApiUserView {
  id: string;
  email: string;
  name: string;
  role: ApiRole;
  permissions: string[];
  createdAt: string;
}

/** Tokens are 32 random bytes; the database keeps only their SHA-256, so a database leak opens no session. */
const newToken = (prefix: string): string => `${prefix}_${randomBytes(32).toString("base64url")}`;
export const tokenHash = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");
/**
 * The CSRF token of a session, derived from its (secret, HttpOnly) cookie token: a page of another
 * origin can neither read the cookie nor compute this, and `GET /session` can answer it again.
 */
export const csrfTokenFor = (sessionToken: string): string => createHash("sha256").update(`csrf:${sessionToken}`, "utf8").digest("base64url");

function userFromRow(r: Record<string, unknown>): ApiUserView {
  const role = r.role as ApiRole;
  return { id: String(r.id), email: String(r.email), name: String(r.name), role, permissions: [...permissionsOf(role)], createdAt: (r.created_at as Date).toISOString() };
}

const principalOf = (u: ApiUserView, via: Principal["via"]): Principal => ({ userId: u.id, email: u.email, name: u.name, role: u.role, via });

/** API users (scrypt password hashes), their cookie sessions and their bearer tokens. */
export class AuthStore {
  constructor(
    readonly db: Db,
    readonly policy: SessionPolicy = DEFAULT_SESSION_POLICY,
  ) {}

  async createUser(input: { email: string; name: string; role: ApiRole; password: string }): Promise<ApiUserView> {
    if (!API_ROLE_NAMES.includes(input.role)) throw new FleetError("invalid_request", { path: "role" });
    const id = randomUUID();
    const hash = await hashPassword(input.password);
    try {
      const r = await this.db.query("INSERT INTO api_users (id, email, name, role, password_hash) VALUES ($1, $2, $3, $4, $5) RETURNING *", [id, input.email.trim(), input.name, input.role, hash]);
      return userFromRow(r.rows[0]!);
    } catch (err) {
      if ((err as { code?: string }).code === "23505") throw new FleetError("api_user_exists");
      throw err;
    }
  }

  /** The first admin, created once when no API user exists yet (FLEET_ADMIN_EMAIL / FLEET_ADMIN_PASSWORD). */
  async ensureFirstAdmin(email: string, password: string): Promise<ApiUserView | undefined> {
    const any = await this.db.query("SELECT 1 FROM api_users LIMIT 1");
    if (any.rows.length > 0) return undefined;
    try {
      return await this.createUser({ email, name: "Administrator", role: "admin", password });
    } catch (err) {
      if (err instanceof FleetError && err.code === "api_user_exists") return undefined;
      throw err;
    }
  }

  async users(): Promise<ApiUserView[]> {
    return (await this.db.query("SELECT * FROM api_users ORDER BY created_at, id")).rows.map(userFromRow);
  }

  async user(id: string): Promise<ApiUserView | undefined> {
    const r = await this.db.query("SELECT * FROM api_users WHERE id = $1", [id]);
    return r.rows[0] ? userFromRow(r.rows[0]) : undefined;
  }

  /** Checks the password (an unknown email costs the same scrypt) and opens a session. */
  async signIn(email: string, password: string): Promise<{ token: string; user: ApiUserView }> {
    const r = await this.db.query("SELECT * FROM api_users WHERE lower(email) = lower($1)", [email.trim()]);
    const row = r.rows[0];
    const ok = await verifyPassword(password, row ? String(row.password_hash) : DUMMY_HASH);
    if (!row || !ok) throw new FleetError("invalid_credentials");
    const token = newToken("fs");
    await this.db.query("INSERT INTO api_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + ($3::bigint * interval '1 millisecond'))", [tokenHash(token), row.id, this.policy.absoluteMs]);
    return { token, user: userFromRow(row) };
  }

  /** The session's user, touching its idle timer; an ended session is removed and answers `session_expired`. */
  async sessionPrincipal(token: string): Promise<Principal> {
    const h = tokenHash(token);
    const r = await this.db.query(
      `SELECT u.*, (s.expires_at < now() OR s.last_seen_at < now() - ($2::bigint * interval '1 millisecond')) AS ended
       FROM api_sessions s JOIN api_users u ON u.id = s.user_id WHERE s.token_hash = $1`,
      [h, this.policy.idleMs],
    );
    const row = r.rows[0];
    if (!row) throw new FleetError("not_signed_in");
    if (row.ended === true) {
      await this.db.query("DELETE FROM api_sessions WHERE token_hash = $1", [h]);
      throw new FleetError("session_expired");
    }
    await this.db.query("UPDATE api_sessions SET last_seen_at = now() WHERE token_hash = $1 AND last_seen_at < now() - ($2::bigint * interval '1 millisecond')", [
      h,
      sessionTouchMs(this.policy),
    ]);
    return principalOf(userFromRow(row), "session");
  }

  /** Removes sessions that ended (idle or past their lifetime) without being presented again. */
  async purgeEndedSessions(): Promise<number> {
    const r = await this.db.query("DELETE FROM api_sessions WHERE expires_at < now() OR last_seen_at < now() - ($1::bigint * interval '1 millisecond')", [this.policy.idleMs]);
    return r.rowCount;
  }

  async endSession(token: string): Promise<void> {
    await this.db.query("DELETE FROM api_sessions WHERE token_hash = $1", [tokenHash(token)]);
  }

  /** A bearer token for an API client: shown once, in this answer; only its hash is kept. */
  async createToken(userId: string, name: string): Promise<{ id: string; token: string; name: string }> {
    if (!(await this.user(userId))) throw new FleetError("api_user_not_found", { userId });
    const id = randomUUID();
    const token = newToken("ft");
    await this.db.query("INSERT INTO api_tokens (id, token_hash, user_id, name) VALUES ($1, $2, $3, $4)", [id, tokenHash(token), userId, name]);
    return { id, token, name };
  }

  async revokeToken(id: string): Promise<void> {
    const r = await this.db.query("DELETE FROM api_tokens WHERE id = $1", [id]);
    if (r.rowCount === 0) throw new FleetError("api_token_not_found", { tokenId: id });
  }

  async tokenPrincipal(token: string): Promise<Principal> {
    const r = await this.db.query("UPDATE api_tokens t SET last_used_at = now() FROM api_users u WHERE u.id = t.user_id AND t.token_hash = $1 RETURNING u.*", [tokenHash(token)]);
    if (!r.rows[0]) throw new FleetError("not_signed_in");
    return principalOf(userFromRow(r.rows[0]), "token");
  }
}
