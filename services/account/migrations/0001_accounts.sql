-- The account service's schema (search_path is the service schema "account").
-- Money columns are bigint minor units; balances are on each account's normal
-- side. CHECK constraints repeat the domain's invariants so that a bug in the
-- application cannot commit a broken ledger (paired assertions).

CREATE TABLE accounts (
  id                uuid        PRIMARY KEY,
  owner_type        text        NOT NULL CHECK (owner_type IN ('CUSTOMER', 'MERCHANT', 'INTERNAL')),
  owner_id          text        NOT NULL CHECK (length(owner_id) BETWEEN 1 AND 64),
  subject_code      text        NOT NULL,
  currency          text        NOT NULL,
  normal_side       text        NOT NULL CHECK (normal_side IN ('DEBIT', 'CREDIT')),
  allow_overdraft   boolean     NOT NULL,
  status            text        NOT NULL CHECK (status IN ('ACTIVE', 'FROZEN', 'CLOSED')),
  posting_mode      text        NOT NULL CHECK (posting_mode IN ('REALTIME', 'BUFFERED')),
  flush_interval_ms integer     NOT NULL CHECK (flush_interval_ms BETWEEN 1 AND 3600000),
  flush_batch_max   integer     NOT NULL CHECK (flush_batch_max BETWEEN 1 AND 10000),
  last_flushed_at   timestamptz,
  available         bigint      NOT NULL DEFAULT 0,
  frozen            bigint      NOT NULL DEFAULT 0 CHECK (frozen >= 0),
  -- Closing balance of the last sealed date: the day's opening balance (日初余额).
  opening_balance   bigint      NOT NULL DEFAULT 0,
  opening_date      date,
  last_seq          bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  version           bigint      NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  closed_at         timestamptz,
  -- A non-overdraft account never has a negative available balance, and so
  -- frozen never exceeds total.
  CONSTRAINT accounts_overdraft_check CHECK (allow_overdraft OR available >= 0),
  -- Total must stay inside int64 for every reader.
  CONSTRAINT accounts_total_range_check CHECK (available::numeric + frozen::numeric BETWEEN -9223372036854775808 AND 9223372036854775807)
);
CREATE INDEX accounts_owner_idx ON accounts (owner_type, owner_id, id);

-- The journal (分户账明细). seq is continuous per account; balance_after of
-- entry n+1 is balance_after of entry n plus or minus its amount.
CREATE TABLE entries (
  account_id      uuid        NOT NULL REFERENCES accounts (id),
  seq             bigint      NOT NULL CHECK (seq >= 1),
  transfer_id     uuid        NOT NULL,
  side            text        NOT NULL CHECK (side IN ('DEBIT', 'CREDIT')),
  amount          bigint      NOT NULL CHECK (amount > 0),
  balance_after   bigint      NOT NULL,
  biz_code        char(20)    NOT NULL,
  accounting_date date        NOT NULL,
  -- clock_timestamp(), not now(): entries of one account are written under its
  -- row lock, so creation times grow with seq and an as-of read is one
  -- backwards index step.
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (account_id, seq)
);
CREATE INDEX entries_as_of_idx ON entries (account_id, created_at, seq);
CREATE INDEX entries_date_idx ON entries (accounting_date);

-- One row per posted transfer (Transfer or a confirmed two-phase transfer).
-- Only successful requests are stored: a refused request leaves no row.
CREATE TABLE transfers (
  id              uuid        PRIMARY KEY,
  request_id      text        NOT NULL UNIQUE,
  request_hash    text        NOT NULL,
  biz_code        char(20)    NOT NULL,
  kind            text        NOT NULL CHECK (kind IN ('TRANSFER', 'CONFIRM')),
  pending_id      text,
  accounting_date date        NOT NULL,
  memo            text        NOT NULL DEFAULT '',
  -- The answer a replay returns (legs with entry seqs), JSON with bigints as text.
  result          jsonb       NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- Two-phase transfers by the caller's pending id.
CREATE TABLE pending_transfers (
  pending_id        text        PRIMARY KEY,
  state             text        NOT NULL CHECK (state IN ('TRIED', 'CONFIRMED', 'CANCELLED', 'CANCELLED_EMPTY', 'EXPIRED')),
  biz_code          char(20)    NOT NULL,
  legs              jsonb       NOT NULL,
  -- Amounts held by the try: [{accountId, amountMinor}], released on resolve.
  reservations      jsonb       NOT NULL,
  try_hash          text        NOT NULL,
  confirm_hash      text,
  transfer_id       uuid,
  expires_at        timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  resolved_at       timestamptz
);
CREATE INDEX pending_transfers_expiry_idx ON pending_transfers (expires_at) WHERE state = 'TRIED';

-- Credits queued for BUFFERED accounts, applied in id (arrival) order.
CREATE TABLE buffered_credits (
  id              bigserial   PRIMARY KEY,
  account_id      uuid        NOT NULL REFERENCES accounts (id),
  transfer_id     uuid        NOT NULL,
  side            text        NOT NULL CHECK (side IN ('DEBIT', 'CREDIT')),
  amount          bigint      NOT NULL CHECK (amount > 0),
  biz_code        char(20)    NOT NULL,
  accounting_date date        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX buffered_credits_account_idx ON buffered_credits (account_id, id);

-- Amount holds (圈存) and whole-account freezes (止付).
CREATE TABLE freezes (
  id            uuid        PRIMARY KEY,
  account_id    uuid        NOT NULL REFERENCES accounts (id),
  whole_account boolean     NOT NULL,
  amount        bigint      NOT NULL CHECK (amount >= 0),
  status        text        NOT NULL CHECK (status IN ('ACTIVE', 'RELEASED')),
  reason        text        NOT NULL DEFAULT '',
  biz_code      char(20)    NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  released_at   timestamptz
);
CREATE INDEX freezes_account_idx ON freezes (account_id) WHERE status = 'ACTIVE';

-- Sealed accounting dates, in order.
CREATE TABLE sealed_days (
  accounting_date date        PRIMARY KEY,
  sealed_at       timestamptz NOT NULL DEFAULT now(),
  result          jsonb       NOT NULL
);

-- 余额日计表: one row per account per sealed date.
CREATE TABLE daily_balances (
  accounting_date date    NOT NULL,
  account_id      uuid    NOT NULL REFERENCES accounts (id),
  subject_code    text    NOT NULL,
  currency        text    NOT NULL,
  normal_side     text    NOT NULL,
  opening         bigint  NOT NULL,
  debit_total     numeric NOT NULL,
  credit_total    numeric NOT NULL,
  closing         bigint  NOT NULL,
  entry_count     bigint  NOT NULL,
  PRIMARY KEY (accounting_date, account_id),
  -- Reconciles with sides respected: opening + normal-side total - other-side total = closing.
  CONSTRAINT daily_balances_reconcile_check CHECK (
    closing::numeric = opening::numeric
      + CASE WHEN normal_side = 'DEBIT' THEN debit_total - credit_total ELSE credit_total - debit_total END
  )
);

-- Answers of mutating RPCs other than Transfer (which keeps its own in
-- transfers), so that a replay returns the first answer.
CREATE TABLE idempotency (
  request_id   text        PRIMARY KEY,
  operation    text        NOT NULL,
  request_hash text        NOT NULL,
  response     jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
