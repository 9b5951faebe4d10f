-- Request idempotency (the platform's claim / remember contract); IF NOT
-- EXISTS because the platform's own migration creates the same table.
CREATE TABLE IF NOT EXISTS idempotency (
  request_id    text        PRIMARY KEY,
  operation     text        NOT NULL,
  request_hash  text        NOT NULL,
  field_hashes  jsonb       NOT NULL,
  response      text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
