/**
 * The HTTP layer answers every request, even when its own error path fails: a guard that breaks its
 * contract (its record rejects) used to leave the caller waiting for ever and reject #handle
 * unhandled, which ends a node process.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Principal } from "../../src/fleet/auth/permissions.js";
import { FleetError } from "../../src/fleet/errors.js";
import { HttpApi } from "../../src/fleet/http/server.js";

const admin: Principal = { userId: "u1", email: "a@fleet.test", name: "Admin", role: "admin", via: "token" };

describe("HttpApi's last resort", () => {
  it("answers 500 internal_error when writing a refusal to the action log throws, and logs it", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "error" }, { write: (l: string) => void lines.push(l) });
    const api = new HttpApi(logger, {
      authenticate: () => Promise.resolve(admin),
      record: () => Promise.reject(new Error("database gone")),
    });
    api.route("PUT", "/api/v1/refuse", { access: "signed_in", summary: "refuses", tag: "Test" }, () => Promise.reject(new FleetError("person_not_found", { personId: "p" })));
    const { url } = await api.listen(0);
    try {
      const res = await fetch(`${url}/api/v1/refuse`, { method: "PUT", body: "{}", headers: { "content-type": "application/json" }, signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("internal_error");
      expect(lines.some((l) => l.includes("request not answered") && l.includes("database gone"))).toBe(true);
    } finally {
      await api.close();
    }
  });
});
