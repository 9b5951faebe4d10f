-- channel-router schema (DESIGN.md §1): registry, transactions, idempotency,
-- daily cap counters, notifications received, statements.

CREATE TABLE channel_numbers (
  channel_no          char(6)     PRIMARY KEY,
  name                text        NOT NULL,
  protocol            text        NOT NULL CHECK (protocol IN ('ALIPAY', 'WECHAT', 'BANK')),
  status              text        NOT NULL CHECK (status IN ('ENABLED', 'DISABLED')),
  base_url            text        NOT NULL,
  close_after_seconds integer     NOT NULL CHECK (close_after_seconds BETWEEN 1 AND 604800),
  -- AES-256-GCM: nonce (12 bytes) || tag (16 bytes) || ciphertext; AAD = channel_no. Never logged.
  credentials_sealed  bytea,
  updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE routes (
  pay_channel         char(4)     NOT NULL,
  channel_no          char(6)     NOT NULL REFERENCES channel_numbers (channel_no),
  fee_rate            text        NOT NULL,
  rounding_mode       text        NOT NULL,
  currency            text        NOT NULL,
  min_amount          bigint      NOT NULL CHECK (min_amount >= 1),
  max_amount          bigint      NOT NULL,
  daily_cap           bigint      NOT NULL CHECK (daily_cap >= 0),
  weight              integer     NOT NULL CHECK (weight BETWEEN 0 AND 10000),
  priority            integer     NOT NULL CHECK (priority BETWEEN 0 AND 1000),
  status              text        NOT NULL CHECK (status IN ('ENABLED', 'DISABLED')),
  -- [{"startMs": .., "endMs": ..}], at most 32 (checked by the service).
  maintenance_windows jsonb       NOT NULL DEFAULT '[]',
  supported_actions   text[]      NOT NULL,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pay_channel, channel_no),
  CHECK (max_amount >= min_amount)
);

-- Amount reserved per route per China-local day. Reserved with one guarded
-- UPDATE (used + amount <= cap), released when a payment fails or closes.
CREATE TABLE daily_usage (
  pay_channel  char(4) NOT NULL,
  channel_no   char(6) NOT NULL,
  usage_date   date    NOT NULL,
  used_amount  bigint  NOT NULL DEFAULT 0 CHECK (used_amount >= 0),
  PRIMARY KEY (pay_channel, channel_no, usage_date)
);

CREATE TABLE transactions (
  txn_id              text        PRIMARY KEY,
  kind                text        NOT NULL CHECK (kind IN ('PAYMENT', 'REFUND', 'PAYOUT')),
  state               text        NOT NULL CHECK (state IN ('PROCESSING', 'SUCCESS', 'FAIL', 'CLOSED', 'UNKNOWN')),
  biz_code            char(20)    NOT NULL,
  pay_channel         char(4)     NOT NULL,
  channel_no          char(6)     NOT NULL REFERENCES channel_numbers (channel_no),
  currency            text        NOT NULL,
  amount              bigint      NOT NULL CHECK (amount > 0),
  fee                 bigint      NOT NULL DEFAULT 0,
  subject             text        NOT NULL DEFAULT '',
  payee               jsonb,
  channel_txn_no      text        NOT NULL DEFAULT '',
  original_txn_id     text        REFERENCES transactions (txn_id),
  failure_code        text        NOT NULL DEFAULT '',
  failure_message     text        NOT NULL DEFAULT '',
  retryable_elsewhere boolean     NOT NULL DEFAULT false,
  pay_url             text        NOT NULL DEFAULT '',
  -- Day whose cap counter holds this payment's amount; NULL once released or for uncapped kinds.
  cap_date            date,
  -- 0 until the first event is published; +1 per published state change.
  version             bigint      NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  finished_at         timestamptz,
  close_deadline      timestamptz NOT NULL,
  next_sync_at        timestamptz,
  sync_attempts       integer     NOT NULL DEFAULT 0,
  exception_at        timestamptz
);
CREATE INDEX transactions_sync_idx ON transactions (next_sync_at) WHERE next_sync_at IS NOT NULL;
CREATE INDEX transactions_exception_idx ON transactions (exception_at) WHERE exception_at IS NOT NULL;
CREATE INDEX transactions_original_idx ON transactions (original_txn_id) WHERE original_txn_id IS NOT NULL;
CREATE INDEX transactions_biz_code_idx ON transactions (biz_code);

-- Idempotency by request_id across the mutating channel RPCs.
CREATE TABLE requests (
  request_id   text        PRIMARY KEY,
  operation    text        NOT NULL,
  request_hash text        NOT NULL,
  -- Deferred: the request row is written first (it claims the key), the transaction in the same commit.
  txn_id       text        NOT NULL REFERENCES transactions (txn_id) DEFERRABLE INITIALLY DEFERRED,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Every callback received, verified or not (forgeries included), for audit.
CREATE TABLE notifications (
  id          bigserial   PRIMARY KEY,
  channel_no  char(6)     NOT NULL,
  txn_id      text,
  verified    boolean     NOT NULL,
  outcome     text        NOT NULL,
  body        text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_txn_idx ON notifications (txn_id);

CREATE TABLE statements (
  statement_id    text        PRIMARY KEY,
  channel_no      char(6)     NOT NULL REFERENCES channel_numbers (channel_no),
  bill_date       date        NOT NULL,
  format          text        NOT NULL,
  checksum_sha256 text        NOT NULL,
  line_count      integer     NOT NULL,
  size_bytes      integer     NOT NULL,
  content         bytea       NOT NULL,
  downloaded_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (channel_no, bill_date)
);
