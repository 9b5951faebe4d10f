/**
 * Tables every service gets from the platform before its own migrations run:
 * the transactional outbox, the consumer inbox and its dead-letter table,
 * and the idempotency table of the unit of work.
 * They run with search_path set to the service schema, so the SQL names no
 * schema and the checksum is the same for every service.
 *
 * Applied migrations are immutable (their checksum is recorded): change these
 * tables by appending a new entry, never by editing one.
 */
export interface PlatformMigration {
  readonly version: string;
  readonly sql: string;
}

export const PLATFORM_MIGRATIONS: readonly PlatformMigration[] = [
  {
    version: 'platform_0001_outbox',
    sql: `
CREATE TABLE outbox (
  id           bigserial PRIMARY KEY,
  msg_id       uuid        NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  subject      text        NOT NULL,
  payload      bytea       NOT NULL,
  headers      jsonb       NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
-- The relay only ever scans unpublished rows in id order; this index stays
-- as small as the backlog however large the table grows.
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
-- The purge deletes published rows by age.
CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
`,
  },
  {
    version: 'platform_0002_inbox',
    sql: `
CREATE TABLE inbox (
  consumer   text        NOT NULL,
  msg_id     text        NOT NULL,
  subject    text        NOT NULL,
  handled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, msg_id)
);
CREATE INDEX inbox_handled_at_idx ON inbox (handled_at);
CREATE TABLE inbox_dead_letter (
  consumer        text        NOT NULL,
  msg_id          text        NOT NULL,
  subject         text        NOT NULL,
  stream_sequence bigint      NOT NULL,
  delivery_count  integer     NOT NULL,
  payload         bytea       NOT NULL,
  headers         jsonb       NOT NULL DEFAULT '{}',
  error           text        NOT NULL,
  dead_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, msg_id)
);
`,
  },
  {
    version: 'platform_0003_idempotency',
    sql: `
-- The one idempotency table of every service (packages/platform/src/uow).
-- A row is inserted by the claim and answered (response) in the same
-- transaction as the work it guards, so a committed row always has its answer.
CREATE TABLE idempotency_claims (
  request_id   text        PRIMARY KEY,
  operation    text        NOT NULL,
  request_hash text        NOT NULL,
  field_hashes jsonb       NOT NULL DEFAULT '{}',
  response     text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
CREATE INDEX idempotency_claims_created_at_idx ON idempotency_claims (created_at);
`,
  },
];
