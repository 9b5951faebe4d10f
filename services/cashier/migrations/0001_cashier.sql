-- cashier schema (DESIGN.md §1, §5): merchants, payment orders, payments and
-- their parts (the TCC log: every step is recorded before it is taken),
-- refunds, withdrawals, coupons, notifications, exceptions, risk counters,
-- idempotency. Amounts are bigint minor units.

CREATE TABLE merchants (
  merchant_id            text        PRIMARY KEY,
  name                   text        NOT NULL,
  -- HMAC key for notifications; never returned or logged.
  notify_key             text        NOT NULL,
  per_txn_max_minor      bigint      NOT NULL DEFAULT 0 CHECK (per_txn_max_minor >= 0),
  merchant_daily_max_minor bigint    NOT NULL DEFAULT 0 CHECK (merchant_daily_max_minor >= 0),
  payer_daily_max_minor  bigint      NOT NULL DEFAULT 0 CHECK (payer_daily_max_minor >= 0),
  payer_per_minute_max   integer     NOT NULL DEFAULT 0 CHECK (payer_per_minute_max >= 0),
  settlement_account_id  text        NOT NULL,
  escrow_account_id      text        NOT NULL,
  created_at             timestamptz NOT NULL DEFAULT now()
);

-- Accounts the cashier opened in the account service, by a stable key
-- (owner type:owner id:subject:currency); opening is idempotent by that key.
CREATE TABLE ledger_accounts (
  account_key  text        PRIMARY KEY,
  account_id   text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
  order_id           uuid        PRIMARY KEY,
  kind               text        NOT NULL CHECK (kind IN ('PAYMENT', 'TOP_UP')),
  merchant_id        text        REFERENCES merchants (merchant_id),
  merchant_order_no  text,
  -- TOP_UP: whose balance (or stored value) is credited.
  payer_id           text,
  top_up_target      text        CHECK (top_up_target IN ('BALANCE', 'STORED_VALUE')),
  amount_minor       bigint      NOT NULL CHECK (amount_minor > 0),
  currency           text        NOT NULL,
  product            char(6)     NOT NULL,
  biz_mode           text        NOT NULL CHECK (biz_mode IN ('INSTANT', 'ESCROW')),
  -- The unrouted code of the order's flow.
  order_code         char(20)    NOT NULL,
  -- The order's context code: order_code until paid, then the paying part's routed code.
  biz_code           char(20)    NOT NULL,
  subject            text        NOT NULL,
  state              text        NOT NULL CHECK (state IN ('WAIT_PAY', 'PAID', 'CLOSED', 'REFUNDED')),
  expire_at          timestamptz NOT NULL,
  notify_url         text        NOT NULL DEFAULT '',
  request_hash       text        NOT NULL,
  refunded_minor     bigint      NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
  receipt_confirmed  boolean     NOT NULL DEFAULT false,
  -- ESCROW: true once the escrow -> pending-settlement transfer is posted.
  release_posted     boolean     NOT NULL DEFAULT false,
  paid_payment_id    uuid,
  close_cause        text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  paid_at            timestamptz,
  closed_at          timestamptz,
  UNIQUE (merchant_id, merchant_order_no)
);
CREATE INDEX orders_expiring ON orders (expire_at) WHERE state = 'WAIT_PAY';

CREATE TABLE payments (
  payment_id       uuid        PRIMARY KEY,
  order_id         uuid        NOT NULL REFERENCES orders (order_id),
  request_id       text        NOT NULL,
  request_hash     text        NOT NULL,
  payer_id         text        NOT NULL,
  amount_minor     bigint      NOT NULL CHECK (amount_minor > 0),
  state            text        NOT NULL
    CHECK (state IN ('TRYING', 'PROCESSING', 'CONFIRMING', 'CANCELLING', 'SUCCEEDED', 'FAILED')),
  failure_reason   text        NOT NULL DEFAULT '',
  failure_message  text        NOT NULL DEFAULT '',
  pay_url          text        NOT NULL DEFAULT '',
  -- Risk counter buckets this payment counted in (released if it fails).
  risk_day         text        NOT NULL,
  risk_merchant_id text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  UNIQUE (order_id, request_id)
);
-- Anti-duplicate payment, enforced by the database: one payment in flight and
-- at most one success per order.
CREATE UNIQUE INDEX payments_one_in_flight ON payments (order_id) WHERE state NOT IN ('SUCCEEDED', 'FAILED');
CREATE UNIQUE INDEX payments_one_success ON payments (order_id) WHERE state = 'SUCCEEDED';
CREATE INDEX payments_unfinished ON payments (updated_at) WHERE state NOT IN ('SUCCEEDED', 'FAILED');

CREATE TABLE payment_parts (
  payment_id        uuid     NOT NULL REFERENCES payments (payment_id),
  part_no           integer  NOT NULL CHECK (part_no >= 0 AND part_no < 8),
  kind              text     NOT NULL CHECK (kind IN ('BALANCE', 'COUPON', 'STORED_VALUE', 'CHANNEL')),
  amount_minor      bigint   NOT NULL CHECK (amount_minor > 0),
  pay_channel       char(4)  NOT NULL,
  channel_no        char(6),
  coupon_id         uuid,
  biz_code          char(20),
  state             text     NOT NULL CHECK (state IN ('PLANNED', 'TRIED', 'CONFIRMED', 'CANCELLED')),
  channel_txn_id    text,
  -- Succeeded plus in-flight refunds of this part.
  refunded_minor    bigint   NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
  PRIMARY KEY (payment_id, part_no)
);
CREATE UNIQUE INDEX payment_parts_txn ON payment_parts (channel_txn_id) WHERE channel_txn_id IS NOT NULL;

CREATE TABLE refunds (
  refund_id          uuid        PRIMARY KEY,
  order_id           uuid        NOT NULL REFERENCES orders (order_id),
  payment_id         uuid        NOT NULL REFERENCES payments (payment_id),
  merchant_id        text        NOT NULL,
  merchant_refund_no text        NOT NULL,
  request_hash       text        NOT NULL,
  amount_minor       bigint      NOT NULL CHECK (amount_minor > 0),
  currency           text        NOT NULL,
  state              text        NOT NULL CHECK (state IN ('PROCESSING', 'SUCCEEDED', 'FAILED')),
  failure_reason     text        NOT NULL DEFAULT '',
  reason             text        NOT NULL DEFAULT '',
  biz_code           char(20)    NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz,
  UNIQUE (merchant_id, merchant_refund_no)
);
CREATE INDEX refunds_unfinished ON refunds (updated_at) WHERE state = 'PROCESSING';

CREATE TABLE refund_parts (
  refund_id      uuid     NOT NULL REFERENCES refunds (refund_id),
  part_no        integer  NOT NULL,
  kind           text     NOT NULL,
  amount_minor   bigint   NOT NULL CHECK (amount_minor >= 0),
  biz_code       char(20) NOT NULL,
  channel_txn_id text,
  -- CHANNEL part: NONE before the channel refund is asked for, then its outcome.
  channel_state  text     NOT NULL DEFAULT 'NONE' CHECK (channel_state IN ('NONE', 'PENDING', 'SUCCESS', 'FAIL')),
  done           boolean  NOT NULL DEFAULT false,
  PRIMARY KEY (refund_id, part_no)
);
CREATE UNIQUE INDEX refund_parts_txn ON refund_parts (channel_txn_id) WHERE channel_txn_id IS NOT NULL;

CREATE TABLE withdrawals (
  withdrawal_id   uuid        PRIMARY KEY,
  request_id      text        NOT NULL UNIQUE,
  request_hash    text        NOT NULL,
  payer_id        text        NOT NULL,
  amount_minor    bigint      NOT NULL CHECK (amount_minor > 0),
  currency        text        NOT NULL,
  account_no      text        NOT NULL,
  account_name    text        NOT NULL,
  bank_code       text        NOT NULL,
  state           text        NOT NULL
    CHECK (state IN ('TRYING', 'PROCESSING', 'CONFIRMING', 'CANCELLING', 'SUCCEEDED', 'FAILED')),
  channel_no      char(6),
  biz_code        char(20),
  channel_txn_id  text        UNIQUE,
  failure_reason  text        NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX withdrawals_unfinished ON withdrawals (updated_at) WHERE state NOT IN ('SUCCEEDED', 'FAILED');

CREATE TABLE coupons (
  coupon_id    uuid        PRIMARY KEY,
  request_id   text        NOT NULL UNIQUE,
  request_hash text        NOT NULL,
  payer_id     text        NOT NULL,
  amount_minor bigint      NOT NULL CHECK (amount_minor > 0),
  currency     text        NOT NULL,
  state        text        NOT NULL CHECK (state IN ('AVAILABLE', 'RESERVED', 'USED')),
  payment_id   uuid,
  expire_at    timestamptz NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coupons_payer ON coupons (payer_id) WHERE state = 'AVAILABLE';

CREATE TABLE notifications (
  notification_id uuid        PRIMARY KEY,
  order_id        uuid        NOT NULL UNIQUE REFERENCES orders (order_id),
  merchant_id     text        NOT NULL,
  url             text        NOT NULL,
  body            text        NOT NULL,
  state           text        NOT NULL CHECK (state IN ('PENDING', 'DELIVERED', 'GAVE_UP')),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_status     integer,
  last_error      text        NOT NULL DEFAULT '',
  biz_code        char(20)    NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'PENDING';

CREATE TABLE exceptions (
  exception_id uuid        PRIMARY KEY,
  flow_kind    text        NOT NULL CHECK (flow_kind IN ('PAYMENT', 'REFUND', 'WITHDRAWAL')),
  flow_id      text        NOT NULL,
  biz_code     char(20)    NOT NULL,
  detail       text        NOT NULL,
  state        text        NOT NULL CHECK (state IN ('OPEN', 'RESOLVED')),
  resolution   text        CHECK (resolution IN ('SUCCEEDED', 'FAILED')),
  operator     text,
  reason       text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  resolved_at  timestamptz,
  UNIQUE (flow_kind, flow_id)
);

-- Risk usage: amounts and counts per (key, bucket), e.g.
-- ('merchant:m1', '2026-01-02') or ('payer-minute:p1', '2026-01-02T03:04').
CREATE TABLE risk_counters (
  counter_key  text    NOT NULL,
  bucket       text    NOT NULL,
  amount_minor bigint  NOT NULL DEFAULT 0,
  count        integer NOT NULL DEFAULT 0,
  PRIMARY KEY (counter_key, bucket)
);

-- Idempotency of RPCs keyed by request_id alone (Pay is keyed per order in payments).
CREATE TABLE idempotency (
  rpc          text        NOT NULL,
  request_id   text        NOT NULL,
  request_hash text        NOT NULL,
  resource_id  text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (rpc, request_id)
);
