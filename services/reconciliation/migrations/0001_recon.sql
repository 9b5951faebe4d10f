-- recon schema (DESIGN.md §1, §5 Reconciliation): paycore's own copy of
-- channel transactions (fed by channel.txn_updated), statement files and
-- their lines, runs, row-level results, differences with their life, rule
-- audit, suspense postings, bank statement lines and claims. Amounts are
-- bigint minor units.

-- channel-router's transactions as its events describe them; the newest
-- version wins (events may arrive out of order).
CREATE TABLE channel_txns (
  txn_id          text        PRIMARY KEY,
  kind            text        NOT NULL CHECK (kind IN ('PAY', 'REFUND', 'PAYOUT')),
  state           text        NOT NULL CHECK (state IN ('PROCESSING', 'SUCCESS', 'FAIL', 'CLOSED', 'UNKNOWN')),
  channel_no      text        NOT NULL,
  pay_channel     text        NOT NULL,
  biz_code        text        NOT NULL,
  amount_minor    bigint      NOT NULL CHECK (amount_minor >= 0),
  fee_minor       bigint      NOT NULL,
  currency        text        NOT NULL,
  channel_txn_no  text        NOT NULL,
  original_txn_id text        NOT NULL,
  -- The China-local date of the final state (or of creation before it): the day the channel books it.
  channel_day     date        NOT NULL,
  finish_time     timestamptz,
  version         bigint      NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channel_txns_day_idx ON channel_txns (channel_no, channel_day);

-- One imported file; (channel_no, checksum) makes a re-import a replay.
CREATE TABLE statement_files (
  file_id          uuid        PRIMARY KEY,
  channel_no       text        NOT NULL,
  bill_date        date        NOT NULL,
  format           text        NOT NULL,
  checksum_sha256  text        NOT NULL,
  size_bytes       bigint      NOT NULL,
  line_count       bigint      NOT NULL,
  -- Footer totals as the file states them (checked against the lines before import).
  stated_amount_minor bigint   NOT NULL,
  stated_fee_minor    bigint   NOT NULL,
  source           text        NOT NULL CHECK (source IN ('DOWNLOAD', 'UPLOAD')),
  operator         text        NOT NULL,
  imported_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (channel_no, bill_date, checksum_sha256)
);

-- Normalised lines (COPY in bounded chunks). amount_minor is positive; kind says its sign.
CREATE TABLE statement_lines (
  file_id           uuid    NOT NULL REFERENCES statement_files (file_id),
  line_no           integer NOT NULL,
  channel_no        text    NOT NULL,
  bill_date         date    NOT NULL,
  kind              text    NOT NULL CHECK (kind IN ('PAY', 'REFUND', 'PAYOUT')),
  status            text    NOT NULL,
  merchant_order_no text    NOT NULL,
  channel_txn_no    text    NOT NULL,
  amount_minor      bigint  NOT NULL CHECK (amount_minor >= 0),
  -- The channel's fee on this line: positive charged, negative given back.
  fee_minor         bigint  NOT NULL,
  currency          text    NOT NULL,
  finished_at       text    NOT NULL,
  PRIMARY KEY (file_id, line_no)
);
CREATE INDEX statement_lines_order_idx ON statement_lines (file_id, merchant_order_no);

-- One run per (channel_no, bill_date, file); steps are recorded so a killed run resumes.
CREATE TABLE runs (
  run_id       uuid        PRIMARY KEY,
  channel_no   text        NOT NULL,
  bill_date    date        NOT NULL,
  file_id      uuid        NOT NULL REFERENCES statement_files (file_id),
  state        text        NOT NULL CHECK (state IN ('MATCHED', 'HANDLED', 'REPORTED')),
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  UNIQUE (channel_no, bill_date)
);

-- Row-level result of a run: one row per line and per unmatched transaction.
CREATE TABLE results (
  run_id            uuid    NOT NULL REFERENCES runs (run_id),
  seq               bigint  NOT NULL,
  bill_date         date    NOT NULL,
  class             text    NOT NULL,
  direction         text    NOT NULL,
  -- What the channel says the money did minus what paycore says (signed minor units).
  delta_minor       bigint  NOT NULL,
  kind              text    NOT NULL,
  merchant_order_no text    NOT NULL,
  channel_txn_no    text    NOT NULL,
  platform_txn_id   text    NOT NULL,
  platform_amount_minor bigint NOT NULL,
  channel_amount_minor  bigint NOT NULL,
  platform_state    text    NOT NULL,
  channel_status    text    NOT NULL,
  channel_fee_minor bigint  NOT NULL,
  platform_fee_minor bigint NOT NULL,
  currency          text    NOT NULL,
  biz_code          text    NOT NULL,
  line_no           integer,
  finished_at       text    NOT NULL,
  PRIMARY KEY (run_id, seq)
);
-- "Was this transaction billed by an earlier day?" (midnight items billed the day before).
CREATE INDEX results_txn_idx ON results (platform_txn_id, bill_date) WHERE platform_txn_id <> '';

CREATE TABLE differences (
  difference_id     uuid        PRIMARY KEY,
  run_id            uuid        NOT NULL REFERENCES runs (run_id),
  channel_no        text        NOT NULL,
  bill_date         date        NOT NULL,
  class             text        NOT NULL,
  direction         text        NOT NULL CHECK (direction IN ('OVER', 'UNDER', 'NONE')),
  delta_minor       bigint      NOT NULL,
  kind              text        NOT NULL,
  merchant_order_no text        NOT NULL,
  channel_txn_no    text        NOT NULL,
  platform_txn_id   text        NOT NULL,
  platform_amount_minor bigint  NOT NULL,
  channel_amount_minor  bigint  NOT NULL,
  currency          text        NOT NULL,
  biz_code          text        NOT NULL,
  state             text        NOT NULL CHECK (state IN ('HELD', 'OPEN', 'RESOLVED')),
  -- Last bill date on which a held item may still match; after it the item opens.
  hold_until        date,
  suspense_minor    bigint      NOT NULL DEFAULT 0,
  resolution        text,
  operator          text,
  reason            text,
  resolved_at       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX differences_day_idx ON differences (channel_no, bill_date, created_at, difference_id);
CREATE INDEX differences_held_idx ON differences (channel_no, merchant_order_no) WHERE state = 'HELD';

-- Every rule applied, with its outcome (the audit of automatic handling).
CREATE TABLE rule_applications (
  id             bigserial   PRIMARY KEY,
  run_id         uuid        NOT NULL REFERENCES runs (run_id),
  difference_id  uuid        REFERENCES differences (difference_id),
  rule           text        NOT NULL,
  outcome        text        NOT NULL,
  detail         text        NOT NULL,
  applied_at     timestamptz NOT NULL DEFAULT now()
);

-- Suspense postings (挂账) and write-offs (销账), each one account Transfer (action 08).
CREATE TABLE suspense_postings (
  request_id     text        PRIMARY KEY,
  difference_id  uuid        NOT NULL REFERENCES differences (difference_id),
  kind           text        NOT NULL CHECK (kind IN ('POST', 'WRITE_OFF')),
  subject_code   text        NOT NULL,
  amount_minor   bigint      NOT NULL CHECK (amount_minor > 0),
  transfer_id    text,
  posted_at      timestamptz
);

-- Accounts reconciliation posts to, by stable key (owner:subject:currency).
CREATE TABLE ledger_accounts (
  account_key  text PRIMARY KEY,
  account_id   text NOT NULL
);

CREATE TABLE bank_lines (
  line_id       uuid        PRIMARY KEY,
  bank          text        NOT NULL,
  bank_serial   text        NOT NULL,
  payer_name    text        NOT NULL,
  amount_minor  bigint      NOT NULL CHECK (amount_minor > 0),
  claimed_minor bigint      NOT NULL DEFAULT 0 CHECK (claimed_minor >= 0 AND claimed_minor <= amount_minor),
  currency      text        NOT NULL,
  value_date    date        NOT NULL,
  UNIQUE (bank, bank_serial)
);

CREATE TABLE bank_claims (
  request_id    text        PRIMARY KEY,
  line_id       uuid        NOT NULL REFERENCES bank_lines (line_id),
  account_id    text        NOT NULL,
  amount_minor  bigint      NOT NULL CHECK (amount_minor > 0),
  operator      text        NOT NULL,
  biz_code      text        NOT NULL,
  transfer_id   text,
  claimed_at    timestamptz NOT NULL DEFAULT now()
);
