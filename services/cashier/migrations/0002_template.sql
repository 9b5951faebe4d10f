-- The cashier on the service template (docs/architecture.md):
-- * idempotency of every mutating RPC is the platform's idempotency_claims
--   (platform_0003_idempotency); the cashier's own table is no longer used.
-- * a flow may get a new exception after an earlier one was resolved: one
--   OPEN exception per flow at a time, any number of resolved ones.
-- * ConfirmReceipt fixes the escrow amount to release (paid minus refunded at
--   that moment), so release and later refunds agree whatever their order.
-- * a channel close is asked under a request id derived from a stored
--   counter, never from the clock, so a replayed step is answered as a replay.
DROP TABLE idempotency;

ALTER TABLE exceptions DROP CONSTRAINT exceptions_flow_kind_flow_id_key;
CREATE UNIQUE INDEX exceptions_one_open ON exceptions (flow_kind, flow_id) WHERE state = 'OPEN';

ALTER TABLE orders ADD COLUMN release_minor bigint CHECK (release_minor >= 0);

ALTER TABLE payments ADD COLUMN close_attempts integer NOT NULL DEFAULT 0 CHECK (close_attempts >= 0);
