-- A bank claim may be an offline stored-value purchase (ADR 0054): the claim
-- keeps the purchase it asked account for (so a replay asks again with the
-- same fields), then the contract and lots account created. A claim's state:
-- PENDING (amount reserved on the line, posting not confirmed), POSTED, or
-- REFUSED (account refused the purchase; the amount went back to the line).
-- Claims recorded before this migration are POSTED when they have a transfer.
ALTER TABLE bank_claims
  ADD COLUMN state          text   NOT NULL DEFAULT 'PENDING'
    CHECK (state IN ('PENDING', 'POSTED', 'REFUSED')),
  ADD COLUMN purchase       jsonb,
  ADD COLUMN contract_id    text,
  ADD COLUMN lot_ids        text[] NOT NULL DEFAULT '{}',
  ADD COLUMN refused_reason text;

UPDATE bank_claims SET state = 'POSTED' WHERE transfer_id IS NOT NULL;

CREATE INDEX bank_claims_by_line ON bank_claims (line_id, claimed_at, request_id);

-- The resume pass reads the purchase claims still PENDING, oldest first.
CREATE INDEX bank_claims_pending ON bank_claims (claimed_at, request_id)
  WHERE state = 'PENDING' AND purchase IS NOT NULL;
