-- settlement schema (DESIGN.md §1, §5): the merchants settlement knows
-- (a copy fed by cashier's merchant_registered events), their settlement
-- profiles, fee rule versions, profit-sharing receivers, clearing items (a
-- copy of cashier's payments and refunds, fed by its events), splits,
-- batches, reconciliation's channel days and open differences, and the
-- account ids settlement posts to. Amounts are bigint minor units.

CREATE TABLE merchants (
  merchant_id   text        PRIMARY KEY,
  name          text        NOT NULL,
  currency      text        NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE profiles (
  merchant_id          text        PRIMARY KEY REFERENCES merchants (merchant_id),
  cycle                text        NOT NULL CHECK (cycle IN ('T_PLUS_N', 'D0', 'WEEKLY', 'MONTHLY', 'MANUAL')),
  offset_days          integer     NOT NULL CHECK (offset_days BETWEEN 0 AND 30),
  anchor_day           integer     NOT NULL CHECK (anchor_day BETWEEN 0 AND 31),
  minimum_payout_minor bigint      NOT NULL CHECK (minimum_payout_minor >= 0),
  hold_unconfirmed     boolean     NOT NULL,
  d0_hold_rate         text        NOT NULL,
  auto_share           boolean     NOT NULL,
  bank_account_no      text        NOT NULL,
  bank_account_name    text        NOT NULL,
  bank_code            text        NOT NULL,
  updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fee_rules (
  rule_id        uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  merchant_id    text        NOT NULL REFERENCES merchants (merchant_id),
  product        text        NOT NULL,
  pay_channel    text        NOT NULL,
  effective_from date        NOT NULL,
  effective_to   date,
  -- FeeRuleTerms as JSON (bigints as decimal strings): read back whole, never queried into.
  terms          jsonb       NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (merchant_id, product, pay_channel, effective_from),
  CHECK (effective_to IS NULL OR effective_to >= effective_from)
);

CREATE TABLE receivers (
  merchant_id text        PRIMARY KEY REFERENCES merchants (merchant_id),
  version     bigint      NOT NULL,
  receivers   jsonb       NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Month-to-date volume per merchant, for MONTH_VOLUME fee tiers.
CREATE TABLE month_volumes (
  merchant_id  text   NOT NULL,
  month        text   NOT NULL,
  volume_minor bigint NOT NULL,
  PRIMARY KEY (merchant_id, month)
);

-- One row per cleared payment ('pay:<payment id>') or refund ('refund:<refund id>').
CREATE TABLE items (
  item_id           text        PRIMARY KEY,
  kind              text        NOT NULL CHECK (kind IN ('PAY', 'REFUND')),
  merchant_id       text        NOT NULL,
  order_id          text        NOT NULL,
  merchant_order_no text        NOT NULL,
  payment_id        text        NOT NULL,
  refund_id         text,
  channel_no        text        NOT NULL,
  channel_txn_id    text        NOT NULL,
  pay_channel       text        NOT NULL,
  biz_code          text        NOT NULL,
  accounting_date   date        NOT NULL,
  amount_minor      bigint      NOT NULL CHECK (amount_minor > 0),
  -- PAY: the fee; REFUND: the fee returned (both >= 0).
  fee_minor         bigint      NOT NULL CHECK (fee_minor >= 0),
  -- PAY: shares to receivers; REFUND: shares clawed back (both >= 0).
  shares_minor      bigint      NOT NULL DEFAULT 0 CHECK (shares_minor >= 0),
  currency          text        NOT NULL,
  rule_id           uuid,
  confirmed         boolean     NOT NULL,
  -- null: manual cycle, settled only on request.
  settle_on         date,
  batch_id          uuid,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX items_due_idx ON items (merchant_id, settle_on) WHERE batch_id IS NULL;
CREATE INDEX items_order_idx ON items (order_id);
CREATE INDEX items_channel_day_idx ON items (channel_no, accounting_date);
CREATE INDEX items_batch_idx ON items (batch_id) WHERE batch_id IS NOT NULL;

-- PAY items: each receiver's share; REFUND items: what the refund clawed back from each.
CREATE TABLE item_shares (
  item_id      text   NOT NULL REFERENCES items (item_id),
  receiver_id  text   NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
  PRIMARY KEY (item_id, receiver_id)
);

-- One split per payment, with the receivers as they were (snapshot).
CREATE TABLE splits (
  payment_id  text        PRIMARY KEY,
  merchant_id text        NOT NULL,
  base_minor  bigint      NOT NULL CHECK (base_minor >= 0),
  receivers   jsonb       NOT NULL,
  shares      jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE batches (
  batch_id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  merchant_id          text        NOT NULL,
  settlement_date      date        NOT NULL,
  state                text        NOT NULL CHECK (state IN ('CREATED', 'POSTED', 'PAYING', 'PAID', 'CARRIED', 'PAYOUT_FAILED', 'EXCEPTION')),
  item_count           bigint      NOT NULL,
  gross_minor          bigint      NOT NULL,
  refunds_minor        bigint      NOT NULL,
  fees_minor           bigint      NOT NULL,
  shares_minor         bigint      NOT NULL,
  carried_in_minor     bigint      NOT NULL,
  payout_minor         bigint      NOT NULL,
  carried_out_minor    bigint      NOT NULL,
  currency             text        NOT NULL,
  -- D0 risk hold: the carried amount is released on this date.
  release_on           date,
  payout_txn_id        text,
  payout_attempts      integer     NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (merchant_id, settlement_date),
  CHECK (payout_minor >= 0),
  CHECK (carried_in_minor + gross_minor - refunds_minor - fees_minor - shares_minor = payout_minor + carried_out_minor)
);
CREATE INDEX batches_release_idx ON batches (release_on) WHERE release_on IS NOT NULL;

CREATE TABLE batch_shares (
  batch_id     uuid   NOT NULL REFERENCES batches (batch_id),
  receiver_id  text   NOT NULL,
  amount_minor bigint NOT NULL,
  PRIMARY KEY (batch_id, receiver_id)
);

-- Channel days reconciliation confirmed, and the deposit move they caused.
CREATE TABLE channel_days (
  channel_no           text        NOT NULL,
  bill_date            date        NOT NULL,
  run_id               text        NOT NULL,
  net_settlement_minor bigint      NOT NULL,
  channel_fee_minor    bigint      NOT NULL,
  confirmed_items      bigint      NOT NULL,
  deposited            boolean     NOT NULL DEFAULT false,
  confirmed_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel_no, bill_date)
);

CREATE TABLE differences (
  difference_id     text        PRIMARY KEY,
  channel_no        text        NOT NULL,
  bill_date         date        NOT NULL,
  channel_txn_no    text        NOT NULL,
  merchant_order_no text        NOT NULL,
  platform_txn_id   text        NOT NULL,
  open              boolean     NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX differences_open_idx ON differences (channel_no, bill_date) WHERE open;

-- Accounts settlement posts to, by a stable key (kind:owner:subject:currency).
CREATE TABLE account_ids (
  account_key text        PRIMARY KEY,
  account_id  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
