-- Reconciliation's confirmed channel days drive the end-of-day deposit move
-- (ADR 0046): each day's state follows DEPOSIT_TRANSITIONS in
-- src/domain/deposit.ts (CONFIRMED -> IN_TRANSIT -> DEPOSITED, or
-- CONFIRMED -> DEPOSITED when the bank has no transit account; UNMAPPED for
-- a channel settlement has no pending-clearing subject for). The boolean
-- `deposited` of 0001 was never set by anything; the state replaces it.
ALTER TABLE channel_days DROP COLUMN deposited;
ALTER TABLE channel_days
  -- '<channel_no>:<bill_date>': the one-column id guarded transitions name.
  ADD COLUMN day_id           text,
  ADD COLUMN pay_channel      text        NOT NULL DEFAULT '',
  ADD COLUMN currency         text        NOT NULL DEFAULT 'CNY',
  ADD COLUMN difference_count bigint      NOT NULL DEFAULT 0,
  ADD COLUMN deposit_state    text        NOT NULL DEFAULT 'CONFIRMED'
    CHECK (deposit_state IN ('CONFIRMED', 'IN_TRANSIT', 'DEPOSITED', 'UNMAPPED')),
  ADD COLUMN deposit_subject  text,
  ADD COLUMN transit_subject  text,
  ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now();
UPDATE channel_days SET day_id = channel_no || ':' || to_char(bill_date, 'YYYY-MM-DD');
ALTER TABLE channel_days ALTER COLUMN day_id SET NOT NULL, ADD CONSTRAINT channel_days_day_id_key UNIQUE (day_id);
CREATE INDEX channel_days_pending_idx ON channel_days (bill_date) WHERE deposit_state IN ('CONFIRMED', 'IN_TRANSIT');

-- An item named by an open difference of any day of its channel stays unconfirmed.
CREATE INDEX differences_open_channel_idx ON differences (channel_no) WHERE open;
CREATE INDEX items_channel_txn_idx ON items (channel_no, channel_txn_id);
