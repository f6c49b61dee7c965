import type { Db } from "./db.js";

/**
 * The fleet's schema as numbered migrations, applied in order, each in its own transaction with
 * its row in `schema_migrations`. Never edit a migration that has shipped: add the next one.
 * The same SQL runs on PGlite and on the PostgreSQL server.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "panels, people, access, command journal",
    sql: `
CREATE TABLE panels (
  id            text PRIMARY KEY,
  type          text NOT NULL,
  code_length   integer NOT NULL,
  time_zone     text NOT NULL,
  partitions    integer NOT NULL,
  capacity      integer NOT NULL,
  -- the panel's identity pinned at enrolment: its X25519 sealing key; codes are sealed to it only
  seal_key      bytea NOT NULL,
  -- the next command sequence number, allocated in the transaction that writes the command
  next_seq      bigint NOT NULL CHECK (next_seq >= 1),
  -- what the panel last reported
  online        boolean,
  last_seq      bigint,
  epoch         text,
  digest        text,
  state_at      timestamptz,
  last_ack_at   timestamptz,
  -- the publisher lease: one worker publishes a panel's commands at a time
  lease_owner   text,
  lease_until   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE people (
  id            text PRIMARY KEY,
  first_name    text NOT NULL,
  last_name     text NOT NULL,
  -- the access code, AES-256-GCM under the vault key (kept outside the database), AAD = person id
  code_ct       bytea,
  -- HMAC-SHA256 of the code under a key derived from the vault key: uniqueness per panel without the code
  code_mac      text,
  code_set_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
  id            bigserial PRIMARY KEY,
  person_id     text NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  kind          text NOT NULL CHECK (kind IN ('mobile', 'email')),
  value         text NOT NULL,
  country       text,
  carrier       text,
  enabled       boolean NOT NULL DEFAULT true
);
CREATE INDEX contacts_person ON contacts(person_id);

CREATE TABLE accounts (
  id            text PRIMARY KEY,
  person_id     text NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  email         text NOT NULL,
  status        text NOT NULL CHECK (status IN ('Not confirmed', 'Active', 'Suspended')),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_person ON accounts(person_id);

CREATE TABLE person_panels (
  person_id     text NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  panel_id      text NOT NULL REFERENCES panels(id) ON DELETE CASCADE,
  enabled       boolean NOT NULL,
  slot          integer NOT NULL CHECK (slot >= 1),
  role          text NOT NULL,
  partitions    integer[] NOT NULL,
  schedule      jsonb NOT NULL,
  door_locks    text[] NOT NULL DEFAULT '{}',
  tags          jsonb NOT NULL DEFAULT '[]',
  account_id    text REFERENCES accounts(id) ON DELETE SET NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (person_id, panel_id),
  UNIQUE (panel_id, slot)
);

-- The transactional outbox: every change of the desired state writes its per-panel commands here
-- in the same transaction, each with the panel's next seq. The dispatcher publishes them in seq
-- order and records each fate.
CREATE TABLE commands (
  id            text PRIMARY KEY,
  panel_id      text NOT NULL REFERENCES panels(id) ON DELETE CASCADE,
  seq           bigint NOT NULL,
  kind          text NOT NULL,
  -- the command without its secrets (never a code)
  body          jsonb NOT NULL,
  -- the command's code, AES-256-GCM under the vault key, AAD = command id; sealed to the panel only when sent
  secret_ct     bytea,
  person_id     text REFERENCES people(id) ON DELETE SET NULL,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'rejected', 'superseded')),
  error_code    text,
  error_sentence text,
  -- the seq the agent's ack carried (differs from seq only if the cloud client renumbered, see dispatcher.ts)
  wire_seq      bigint,
  attempts      integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz,
  acked_at      timestamptz,
  UNIQUE (panel_id, seq)
);
CREATE INDEX commands_pending ON commands(panel_id, seq) WHERE status = 'pending';
`,
  },
  {
    version: 2,
    name: "api users and sessions, action log, events, webhook deliveries, dealer requests, panel settings",
    sql: `
-- the panel's Ed25519 identity key from its retained state, pinned at enrolment (null: it did not publish one)
ALTER TABLE panels ADD COLUMN identity_key bytea;
-- door locks this panel knows (given at enrolment; the agent's config names them)
ALTER TABLE panels ADD COLUMN door_locks text[] NOT NULL DEFAULT '{}';
-- the dealer window as the panel last reported it
ALTER TABLE panels ADD COLUMN dealer_until timestamptz;
ALTER TABLE panels ADD COLUMN dealer_hours integer;

-- the person's access period, applied to every panel they are on
ALTER TABLE people ADD COLUMN access_period jsonb NOT NULL DEFAULT '{"kind":"always"}';

ALTER TABLE person_panels ADD COLUMN label text;
-- the proximity tags' ids (secrets like codes): AES-256-GCM, AAD tags:<person>:<panel>; tags holds their kinds only
ALTER TABLE person_panels ADD COLUMN tags_ct bytea;
ALTER TABLE person_panels ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE person_panels ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- accounts belong to the customer application; the fleet keeps id, email, created, status
ALTER TABLE accounts ALTER COLUMN person_id DROP NOT NULL;
CREATE INDEX accounts_email ON accounts(lower(email));

CREATE TABLE api_users (
  id            text PRIMARY KEY,
  email         text NOT NULL,
  name          text NOT NULL,
  role          text NOT NULL,
  -- scrypt$N$r$p$salt$hash (base64url)
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX api_users_email ON api_users(lower(email));

-- cookie sessions: only the SHA-256 of the random token is kept
CREATE TABLE api_sessions (
  token_hash    text PRIMARY KEY,
  user_id       text NOT NULL REFERENCES api_users(id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL
);

-- bearer tokens of API clients: only the SHA-256 of the random token is kept
CREATE TABLE api_tokens (
  id            text PRIMARY KEY,
  token_hash    text NOT NULL UNIQUE,
  user_id       text NOT NULL REFERENCES api_users(id) ON DELETE CASCADE,
  name          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);

-- who changed what (API changes and their refusals, each panel's acks, 403s), newest first
CREATE TABLE action_log (
  id            bigserial PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT now(),
  actor_kind    text NOT NULL,
  actor_id      text NOT NULL,
  actor_name    text,
  panel_id      text,
  slot          integer,
  person_id     text,
  action        text NOT NULL,
  outcome       text NOT NULL CHECK (outcome IN ('requested', 'applied', 'rejected', 'refused')),
  code          text,
  sentence      text,
  command_id    text
);
CREATE INDEX action_log_panel ON action_log(panel_id, id);
CREATE INDEX action_log_person ON action_log(person_id, id);

-- the panels' events, deduplicated by the agent's outbox number n (every worker may hear every event; migration 7 adds the epoch to the key)
CREATE TABLE events (
  id            bigserial PRIMARY KEY,
  panel_id      text NOT NULL,
  n             bigint NOT NULL,
  type          text NOT NULL,
  at            timestamptz NOT NULL,
  slot          integer,
  person_id     text,
  data          jsonb NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (panel_id, n)
);
CREATE INDEX events_panel ON events(panel_id, at);
CREATE INDEX events_person ON events(person_id, at);
CREATE INDEX events_at ON events(at);

-- durable webhook deliveries: a row per delivery, retried with backoff until delivered or given up
CREATE TABLE webhook_deliveries (
  id            text PRIMARY KEY,
  hook          text NOT NULL CHECK (hook IN ('notification', 'account')),
  event         text NOT NULL,
  payload       jsonb NOT NULL,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts      integer NOT NULL DEFAULT 0,
  next_at       timestamptz NOT NULL DEFAULT now(),
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  delivered_at  timestamptz
);
CREATE INDEX webhook_due ON webhook_deliveries(next_at) WHERE status = 'pending';

-- a dealer's request for 24 h access: a one-time link (only the token's SHA-256 is kept)
CREATE TABLE dealer_requests (
  id            text PRIMARY KEY,
  token_hash    text NOT NULL UNIQUE,
  panel_id      text NOT NULL REFERENCES panels(id) ON DELETE CASCADE,
  requested_by  text NOT NULL,
  requested_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed')),
  confirmed_at  timestamptz,
  command_id    text
);
`,
  },
  {
    version: 3,
    name: "reconcile on digest mismatch",
    sql: `
-- the desired digest a digest-mismatch snapshot was last written for: the same mismatch twice is reported, never looped on
ALTER TABLE panels ADD COLUMN reconciled_digest text;
`,
  },
  {
    version: 4,
    name: "room on the pages of panels and commands for in-page (HOT) updates",
    sql: `
-- A panel's row is updated for every command written (next_seq), every state it reports, its acks
-- and its lease; a command's row when it is sent and when its fate is recorded. With room left on
-- each page, an update that changes no indexed column stays on its page and adds no index entries
-- (markSent's UPDATE took 2.5x longer on full pages). Pages written from now on keep the room.
ALTER TABLE panels SET (fillfactor = 50);
ALTER TABLE commands SET (fillfactor = 80);
`,
  },
  {
    version: 5,
    name: "keyed digests of each access row's proximity tags, for the per-panel uniqueness check",
    sql: `
-- The tags' ids are only in tags_ct (encrypted); tag_macs holds their keyed digests (CodeVault.tagMac)
-- so a tag another person has at the panel is refused before it is written (a snapshot carrying
-- two users with one tag is refused whole by the agent). Rows from before (tags_ct set, no digests)
-- are filled in at start (backfillTagMacs), as the key is not in the database.
ALTER TABLE person_panels ADD COLUMN tag_macs text[] NOT NULL DEFAULT '{}';
`,
  },
  {
    version: 6,
    name: "when the agent made the state recorded, so an older report does not replace a newer one",
    sql: `
ALTER TABLE panels ADD COLUMN state_reported_at bigint;
`,
  },
  {
    version: 7,
    name: "events deduplicated by (panel, epoch, n): a reset panel numbers its events from 1 again",
    sql: `
-- '' for an event that names no epoch (agents from before events did, and the rows stored before).
-- (panel_id, n) alone had kept a reset panel's first events out as duplicates of the old database's.
ALTER TABLE events ADD COLUMN epoch text NOT NULL DEFAULT '';
ALTER TABLE events DROP CONSTRAINT events_panel_id_n_key;
ALTER TABLE events ADD CONSTRAINT events_panel_epoch_n UNIQUE (panel_id, epoch, n);
`,
  },
];

/** An arbitrary constant: the transaction-level advisory lock that serialises migrations across workers. */
const MIGRATION_LOCK = 0x70616e656c;

/** Applies the migrations not yet applied; safe to run from several workers at once. Returns the schema version. */
export async function migrate(db: Db): Promise<number> {
  await db.query("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  let version = 0;
  for (const m of MIGRATIONS) {
    await db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      const done = await tx.query("SELECT 1 FROM schema_migrations WHERE version = $1", [m.version]);
      if (done.rows.length > 0) return;
      for (const statement of m.sql.split(/;\s*\n/).map((s) => s.trim()).filter(Boolean)) await tx.query(statement);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
    });
    version = m.version;
  }
  return version;
}
