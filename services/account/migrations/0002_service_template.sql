-- The account service on the service template (docs/adr/0014): idempotency of
-- every mutating RPC is the platform's idempotency_claims table
-- (platform_0003_idempotency), claimed in the transaction that does the work.
-- The account's own copies go: the `idempotency` table and the request hash
-- on `transfers`. What they recorded is carried over first:
--
-- * a Transfer recorded before this migration stays a replay: its claim is
--   written with the platform's canonical hash of the payload the service
--   now claims ({bizCode, legs, memo}), computed here from the stored
--   transfer, and answers with a reference to the transfer;
-- * the try fingerprint of a pending transfer is recomputed the same way, so
--   a repeated try of a pending transfer tried before stays a replay;
-- * any other request recorded before (OpenAccount, Freeze, …) keeps its id
--   taken: its claim is written under the operation 'account.legacy.<name>',
--   so a retry is refused as IDEMPOTENCY_KEY_REUSED (field "operation")
--   instead of doing the work twice.
--
-- The canonical form (packages/platform/src/uow/canonical.ts): keys sorted,
-- strings as s + JSON text, bigints as b + decimal, arrays in order; the hash
-- is SHA-256 over a version byte (1), the operation, a newline and that text.
-- Postgres' to_json(text) escapes a string exactly as JSON.stringify does.

CREATE FUNCTION migration_0002_legs(legs jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT '[' || COALESCE(string_agg(
           '{"accountId":s' || to_json(leg ->> 'accountId')::text ||
           ',"amountMinor":b' || (leg ->> 'amountMinor') ||
           ',"currency":s' || to_json(leg ->> 'currency')::text ||
           ',"side":s' || to_json(leg ->> 'side')::text || '}',
           ',' ORDER BY position), '') || ']'
    FROM jsonb_array_elements(legs) WITH ORDINALITY AS l(leg, position)
$$;

CREATE FUNCTION migration_0002_hash(operation text, canonical text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256('\x01'::bytea || convert_to(operation || E'\n' || canonical, 'UTF8')), 'hex')
$$;

CREATE FUNCTION migration_0002_field(canonical text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT left(encode(sha256(convert_to(canonical, 'UTF8')), 'hex'), 16)
$$;

INSERT INTO idempotency_claims (request_id, operation, request_hash, field_hashes, response, created_at, completed_at)
SELECT t.request_id,
       'account.Transfer',
       migration_0002_hash('account.Transfer',
         '{"bizCode":' || c.biz || ',"legs":' || c.legs || ',"memo":' || c.memo || '}'),
       jsonb_build_object('bizCode', migration_0002_field(c.biz),
                          'legs', migration_0002_field(c.legs),
                          'memo', migration_0002_field(c.memo)),
       json_build_object('transferId', t.id)::text,
       t.created_at,
       t.created_at
  FROM transfers t
 CROSS JOIN LATERAL (SELECT 's' || to_json(rtrim(t.biz_code))::text AS biz,
                            migration_0002_legs(t.result -> 'legs') AS legs,
                            's' || to_json(t.memo)::text AS memo) c
 WHERE t.kind = 'TRANSFER'
ON CONFLICT (request_id) DO NOTHING;

UPDATE pending_transfers
   SET try_hash = migration_0002_hash('account.try',
         '{"legs":' || migration_0002_legs(legs) || ',"pendingId":s' || to_json(pending_id)::text || '}')
 WHERE try_hash <> '';

INSERT INTO idempotency_claims (request_id, operation, request_hash, field_hashes, response, created_at, completed_at)
SELECT request_id, 'account.legacy.' || operation, request_hash, '{}', response::text, created_at, created_at
  FROM idempotency
ON CONFLICT (request_id) DO NOTHING;

DROP FUNCTION migration_0002_legs(jsonb);
DROP FUNCTION migration_0002_hash(text, text);
DROP FUNCTION migration_0002_field(text);

DROP TABLE idempotency;
ALTER TABLE transfers DROP COLUMN request_hash;
