-- The ledger's books (schema ledger). Amounts are bigint minor units; every
-- per-subject figure is kept per currency. Balances are debit-positive nets
-- (debits minus credits); the direction shown to people is derived from the
-- sign (services/ledger/src/domain/balances.ts).

CREATE TABLE subjects (
  code          text PRIMARY KEY CHECK (code ~ '^[0-9]{4}([0-9]{2}){0,2}$'),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
  category      text NOT NULL CHECK (category IN ('ASSET', 'LIABILITY', 'COMMON', 'EQUITY', 'COST', 'PROFIT_AND_LOSS')),
  normal_side   text NOT NULL CHECK (normal_side IN ('DEBIT', 'CREDIT', 'BOTH')),
  -- Account holds this subject's balances of record (ADR 0010).
  account_kept  boolean NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((category = 'COMMON') = (normal_side = 'BOTH'))
);

-- One row per accounting date the ledger has heard of. The row is the lock
-- that orders voucher inserts against the close of their date.
CREATE TABLE days (
  accounting_date  date PRIMARY KEY,
  status           text NOT NULL CHECK (status IN ('OPEN', 'SEALED', 'CLOSED')),
  sealed_at        timestamptz,
  account_count    bigint,
  closed_at        timestamptz,
  voucher_count    bigint,
  CHECK ((status = 'CLOSED') = (closed_at IS NOT NULL))
);

-- account.day_sealed totals, per subject and currency.
CREATE TABLE sealed_totals (
  accounting_date  date NOT NULL REFERENCES days (accounting_date),
  subject_code     text NOT NULL,
  currency         text NOT NULL,
  entry_count      bigint NOT NULL CHECK (entry_count >= 0),
  debit_minor      bigint NOT NULL CHECK (debit_minor >= 0),
  credit_minor     bigint NOT NULL CHECK (credit_minor >= 0),
  PRIMARY KEY (accounting_date, subject_code, currency)
);

CREATE TABLE vouchers (
  seq              bigserial UNIQUE,
  voucher_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  source           text NOT NULL CHECK (source IN ('TRANSFER', 'MANUAL')),
  -- One voucher per transfer, whatever the inbox let through twice.
  transfer_id      text UNIQUE,
  -- Manual vouchers: the caller's idempotency key.
  request_id       text UNIQUE,
  biz_code         text NOT NULL,
  accounting_date  date NOT NULL,
  reason           text NOT NULL DEFAULT '' CHECK (length(reason) <= 256),
  operator         text NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((source = 'TRANSFER') = (transfer_id IS NOT NULL)),
  CHECK ((source = 'MANUAL') = (request_id IS NOT NULL))
);
CREATE INDEX vouchers_by_date ON vouchers (accounting_date, seq);
CREATE INDEX vouchers_by_biz_code ON vouchers (biz_code, accounting_date);

CREATE TABLE voucher_lines (
  voucher_id       uuid NOT NULL REFERENCES vouchers (voucher_id) ON DELETE CASCADE,
  line_no          int NOT NULL CHECK (line_no BETWEEN 1 AND 64),
  subject_code     text NOT NULL REFERENCES subjects (code),
  side             text NOT NULL CHECK (side IN ('DEBIT', 'CREDIT')),
  amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
  currency         text NOT NULL,
  account_id       text,
  -- Copied from the voucher so day totals are one indexed scan.
  accounting_date  date NOT NULL,
  source           text NOT NULL,
  PRIMARY KEY (voucher_id, line_no)
);
CREATE INDEX voucher_lines_by_date ON voucher_lines (accounting_date, subject_code, currency);

-- Leaf rows frozen when their date closed: a closed date's report never
-- changes. Parents are rolled up on read.
CREATE TABLE subject_daily_balances (
  accounting_date  date NOT NULL REFERENCES days (accounting_date),
  subject_code     text NOT NULL REFERENCES subjects (code),
  currency         text NOT NULL,
  opening_minor    bigint NOT NULL,
  debit_minor      bigint NOT NULL CHECK (debit_minor >= 0),
  credit_minor     bigint NOT NULL CHECK (credit_minor >= 0),
  closing_minor    bigint NOT NULL,
  line_count       bigint NOT NULL CHECK (line_count >= 0),
  PRIMARY KEY (accounting_date, subject_code, currency),
  CHECK (closing_minor = opening_minor + debit_minor - credit_minor)
);

-- The last close check of each date (GetCheckReport).
CREATE TABLE check_reports (
  accounting_date        date PRIMARY KEY REFERENCES days (accounting_date),
  status                 text NOT NULL CHECK (status IN ('PASSED', 'FAILED')),
  differences            jsonb NOT NULL,
  voucher_count          bigint NOT NULL,
  account_balance_count  bigint NOT NULL,
  checked_at             timestamptz NOT NULL DEFAULT now()
);

-- Postings that could not become vouchers: kept for operators, never dropped.
CREATE TABLE voucher_exceptions (
  seq              bigserial PRIMARY KEY,
  transfer_id      text NOT NULL UNIQUE,
  biz_code         text NOT NULL,
  accounting_date  text NOT NULL,
  reason           text NOT NULL,
  detail           text NOT NULL,
  payload          bytea NOT NULL,
  recorded_at      timestamptz NOT NULL DEFAULT now()
);

-- Idempotency keys of successful mutating RPCs.
CREATE TABLE idempotency_keys (
  request_id      text PRIMARY KEY,
  rpc             text NOT NULL,
  payload_sha256  text NOT NULL,
  result_ref      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
