import { z } from "zod";
import { PAGE_SIZES } from "../../domain/index.js";
import { FLEET_ERRORS } from "../errors.js";
import type { RouteInfo } from "./server.js";

/**
 * The OpenAPI 3.1 document, made from the route table itself (each route's access rule, summary
 * and zod schemas), so it cannot list a route the server does not have or miss one it has.
 */
function jsonSchema(schema: z.ZodType, io: "input" | "output" = "input"): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

const errorSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: { code: { type: "string", description: "A stable code (src/fleet/errors.ts, and the agent's rule codes)" }, message: { type: "string" }, detail: { type: "object" } },
    },
  },
};

export function openApiDocument(routes: RouteInfo[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, "{$1}");
    const params = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    if (r.query) {
      const q = jsonSchema(r.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        // perPage is coerced from text, so its input schema says "number": the page sizes say more.
        const shown = name === "perPage" ? { type: "integer", enum: [...PAGE_SIZES], default: 15 } : schema;
        params.push({ name, in: "query", required: (q.required ?? []).includes(name) && (schema as { default?: unknown }).default === undefined, schema: shown as { type: string } });
      }
    }
    const ok = String(r.status ?? 200);
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      "x-permission": r.access,
      ...(r.alsoNeeds ? { "x-permission-also": { permission: r.alsoNeeds.permission, when: r.alsoNeeds.what } } : {}),
      ...(r.access === "public" ? { security: [] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(r.body) } } } } : {}),
      responses: {
        [ok]: r.response ? { description: "Success", content: { "application/json": { schema: jsonSchema(r.response, "output") } } } : { description: "Success (no body)" },
        default: { description: "A refusal with a stable code", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
      },
    };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "panel-fleet",
      version: "1",
      description:
        "The cloud side that manages people and codes across a fleet of panels. Paged lists answer { rows, page, perPage, total, pages, range } with perPage one of 10, 15, 50, 100, 200. " +
        "Every refusal is { error: { code, message, detail? } }. Cookie sessions need X-CSRF-Token on every non-GET request; API clients send Authorization: Bearer <token>. " +
        "x-permission names the permission a route needs (public: none; signed_in: any API user); x-permission-also a second one the call needs when its body asks for what that permission governs.",
    },
    servers: [{ url: "/" }],
    security: [{ session: [] }, { bearer: [] }],
    components: {
      securitySchemes: {
        session: { type: "apiKey", in: "cookie", name: "fleet_session" },
        bearer: { type: "http", scheme: "bearer" },
      },
      schemas: { Error: errorSchema },
    },
    "x-error-codes": Object.fromEntries(Object.entries(FLEET_ERRORS).map(([code, [status, message]]) => [code, { status, message }])),
    paths,
  };
}
