-- The ledger's mutating RPCs now claim their request ids in the platform's
-- idempotency_claims table (platform_0003_idempotency: one table and one
-- canonical request hash for every service). Rows of the old table cannot be
-- carried over: their sha256 was taken over JSON text, not the canonical
-- form, so no later request could match them. The table is kept, renamed, for
-- audit; a retry of a request answered before this migration is not replayed,
-- but still cannot act twice (subject codes are primary keys, a manual
-- voucher's request_id is unique, a closed date answers with its close).
ALTER TABLE idempotency_keys RENAME TO idempotency_keys_retired;
