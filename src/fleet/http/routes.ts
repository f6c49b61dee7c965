import { generateCode } from "../../cloud/index.js";
import type { CloudClient } from "../../cloud/index.js";
import { PANEL_TYPES, Secret, type PageSize } from "../../domain/index.js";
import type { Dispatcher } from "../dispatcher.js";
import { enrolPanel } from "../enrol.js";
import { FleetError } from "../errors.js";
import type { FleetStore, PanelRow } from "../store.js";
import { parse, type HttpApi } from "./server.js";
import { createPanelBody, createPersonBody, setAccessBody, setCodeBody, usersQuery } from "./schemas.js";

export interface RouteDeps {
  store: FleetStore;
  client: CloudClient;
  dispatcher: Dispatcher;
}

function panelView(p: PanelRow) {
  return {
    id: p.id,
    type: p.type,
    codeLength: p.codeLength,
    timeZone: p.timeZone,
    partitions: p.partitions,
    capacity: p.capacity,
    identity: p.sealKey.toString("hex"),
    reported: { online: p.online, lastSeq: p.lastSeq, epoch: p.epoch, digest: p.digest, stateAt: p.stateAt?.toISOString() ?? null, lastAckAt: p.lastAckAt?.toISOString() ?? null },
  };
}

/** The routes of `/api/v1`. */
export function registerRoutes(api: HttpApi, { store, client, dispatcher }: RouteDeps): HttpApi {
  const person = async (id: string) => {
    const p = await store.person(id);
    if (!p) throw new FleetError("person_not_found", { personId: id });
    return p;
  };

  api.route("POST", "/api/v1/panels", async (req) => {
    const body = parse(createPanelBody, req.body);
    return { status: 201, body: panelView(await enrolPanel(store, client, body)) };
  });

  api.route("GET", "/api/v1/panels/:id", async (req) => {
    const p = await store.panel(req.params.id!);
    if (!p) throw new FleetError("panel_not_found", { panelId: req.params.id! });
    return { body: panelView(p) };
  });

  api.route("POST", "/api/v1/people", async (req) => {
    const body = parse(createPersonBody, req.body);
    return { status: 201, body: await store.createPerson(body) };
  });

  api.route("GET", "/api/v1/people/:id", async (req) => ({ body: await person(req.params.id!) }));

  api.route("PUT", "/api/v1/people/:id/code", async (req) => {
    const body = parse(setCodeBody, req.body);
    const id = req.params.id!;
    await person(id);
    if ("code" in body) {
      const { commands } = await store.setCode(id, new Secret(body.code));
      dispatcher.kick();
      return { body: { personId: id, codeSet: true, commands } };
    }
    // A generated code fits every panel the person is on; it is shown in this response only.
    const panels = await store.panelsOfPerson(id);
    const lengths = new Set(panels.map((p) => p.codeLength));
    if (lengths.size > 1 && body.length === undefined) throw new FleetError("invalid_code_length", { lengths: [...lengths].join(",") });
    const length = body.length ?? [...lengths][0] ?? 4;
    const refused = panels.flatMap((p) => PANEL_TYPES[p.type].refusedCodes);
    for (let attempt = 0; ; attempt++) {
      const code = new Secret(generateCode(length, refused));
      try {
        const { commands } = await store.setCode(id, code);
        dispatcher.kick();
        return { body: { personId: id, codeSet: true, code: code.reveal(), commands } };
      } catch (err) {
        if (!(err instanceof FleetError && err.code === "code_in_use") || attempt >= 20) throw err;
      }
    }
  });

  api.route("PUT", "/api/v1/people/:id/panels/:panelId", async (req) => {
    const body = parse(setAccessBody, req.body);
    const out = await store.setAccess(req.params.id!, req.params.panelId!, body);
    if (out.commands.length > 0) dispatcher.kick();
    return { body: out };
  });

  api.route("GET", "/api/v1/panels/:id/users", async (req) => {
    const q = parse(usersQuery, Object.fromEntries(req.query));
    return { body: await store.listUsers(req.params.id!, q.page, q.perPage as PageSize) };
  });

  api.route("GET", "/api/v1/panels/:id/commands", async (req) => {
    if (!(await store.panel(req.params.id!))) throw new FleetError("panel_not_found", { panelId: req.params.id! });
    return { body: { commands: await store.commandsOfPanel(req.params.id!) } };
  });

  api.route("GET", "/api/v1/commands/:id", async (req) => {
    const c = await store.command(req.params.id!);
    if (!c) throw new FleetError("command_not_found", { commandId: req.params.id! });
    return { body: c };
  });

  return api;
}
