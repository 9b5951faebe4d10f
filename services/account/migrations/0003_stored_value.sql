-- Stored value with expiring lots. Quantities are bigint asset minor units;
-- values bigint minor units of the contract currency. Each lot row keeps five
-- buckets (available, held, frozen, consumed, expired) as quantity + value,
-- and the CHECKs repeat the domain invariant (domain/lots.ts): the buckets
-- partition the lot's quantity and its paid amount exactly.
-- Numbered 0003 to leave 0002 to the balance side's own next migration.

CREATE TABLE sv_contracts (
  contract_id          text        PRIMARY KEY CHECK (length(contract_id) BETWEEN 1 AND 64),
  owner_id             text        NOT NULL CHECK (length(owner_id) BETWEEN 1 AND 64),
  asset                text        NOT NULL,
  currency             text        NOT NULL,
  paid_minor           bigint      NOT NULL CHECK (paid_minor >= 0),
  funding_account_id   uuid,
  purchase_transfer_id uuid,
  biz_code             char(20)    NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sv_contracts_posting_check CHECK ((paid_minor = 0) = (purchase_transfer_id IS NULL))
);
CREATE INDEX sv_contracts_owner_idx ON sv_contracts (owner_id, asset);

CREATE TABLE sv_lots (
  lot_id              uuid        PRIMARY KEY,
  contract_id         text        NOT NULL REFERENCES sv_contracts (contract_id),
  owner_id            text        NOT NULL,
  asset               text        NOT NULL,
  currency            text        NOT NULL,
  category            text        NOT NULL CHECK (category IN ('PAID', 'PROMOTIONAL')),
  -- NULL: coins, which serve every consumption type.
  consumption_type    text,
  quantity            bigint      NOT NULL CHECK (quantity > 0),
  paid_minor          bigint      NOT NULL CHECK (paid_minor >= 0),
  fair_value_per_unit numeric     NOT NULL CHECK (fair_value_per_unit >= 0),
  fair_value_rounding text        NOT NULL,
  residual_minor      bigint      NOT NULL,
  effective_at        timestamptz NOT NULL,
  expires_at          timestamptz NOT NULL,
  created_seq         bigserial   NOT NULL,
  state               text        NOT NULL CHECK (state IN ('ACTIVE', 'EXPIRED')),
  available_quantity  bigint      NOT NULL CHECK (available_quantity >= 0),
  available_value     bigint      NOT NULL CHECK (available_value >= 0),
  held_quantity       bigint      NOT NULL CHECK (held_quantity >= 0),
  held_value          bigint      NOT NULL CHECK (held_value >= 0),
  frozen_quantity     bigint      NOT NULL CHECK (frozen_quantity >= 0),
  frozen_value        bigint      NOT NULL CHECK (frozen_value >= 0),
  consumed_quantity   bigint      NOT NULL CHECK (consumed_quantity >= 0),
  consumed_value      bigint      NOT NULL CHECK (consumed_value >= 0),
  expired_quantity    bigint      NOT NULL CHECK (expired_quantity >= 0),
  expired_value       bigint      NOT NULL CHECK (expired_value >= 0),
  created_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sv_lots_dates_check CHECK (expires_at > effective_at),
  CONSTRAINT sv_lots_promotional_check CHECK (category = 'PAID' OR paid_minor = 0),
  CONSTRAINT sv_lots_quantity_sum_check CHECK (
    available_quantity::numeric + held_quantity + frozen_quantity + consumed_quantity + expired_quantity = quantity),
  CONSTRAINT sv_lots_value_sum_check CHECK (
    available_value::numeric + held_value + frozen_value + consumed_value + expired_value = paid_minor),
  -- An active lot's available units are its only ones an expiry moves; an
  -- expired lot has none available.
  CONSTRAINT sv_lots_expired_check CHECK (state = 'ACTIVE' OR available_quantity = 0)
);
CREATE INDEX sv_lots_usable_idx ON sv_lots (owner_id, asset, expires_at) WHERE state = 'ACTIVE';
CREATE INDEX sv_lots_due_idx ON sv_lots (expires_at) WHERE state = 'ACTIVE';
CREATE INDEX sv_lots_contract_idx ON sv_lots (contract_id);

CREATE TABLE sv_consumptions (
  consumption_id   text        PRIMARY KEY CHECK (length(consumption_id) BETWEEN 1 AND 128),
  state            text        NOT NULL CHECK (state IN ('TRIED', 'CONFIRMED', 'CANCELLED', 'CANCELLED_EMPTY', 'EXPIRED')),
  owner_id         text        NOT NULL,
  asset            text        NOT NULL,
  consumption_type text        NOT NULL,
  quantity         bigint      NOT NULL CHECK (quantity >= 0),
  value_minor      bigint      NOT NULL CHECK (value_minor >= 0),
  currency         text        NOT NULL,
  shape_hash       text        NOT NULL,
  expires_at       timestamptz,
  biz_code         char(20)    NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  resolved_at      timestamptz
);
CREATE INDEX sv_consumptions_timeout_idx ON sv_consumptions (expires_at) WHERE state = 'TRIED';

-- One row per lot a consumption drew from, in draw order.
CREATE TABLE sv_draws (
  consumption_id    text   NOT NULL REFERENCES sv_consumptions (consumption_id),
  seq               int    NOT NULL CHECK (seq >= 0),
  lot_id            uuid   NOT NULL REFERENCES sv_lots (lot_id),
  quantity          bigint NOT NULL CHECK (quantity > 0),
  value_minor       bigint NOT NULL CHECK (value_minor >= 0),
  refunded_quantity bigint NOT NULL DEFAULT 0 CHECK (refunded_quantity >= 0),
  refunded_value    bigint NOT NULL DEFAULT 0 CHECK (refunded_value >= 0),
  PRIMARY KEY (consumption_id, seq),
  CONSTRAINT sv_draws_refund_check CHECK (refunded_quantity <= quantity AND refunded_value <= value_minor)
);
CREATE INDEX sv_draws_lot_idx ON sv_draws (lot_id);

-- Every movement of units between a lot's buckets, with the account transfer
-- that posted it (purchase, expiry, reactivation).
CREATE TABLE sv_movements (
  movement_id    bigserial   PRIMARY KEY,
  lot_id         uuid        NOT NULL REFERENCES sv_lots (lot_id),
  contract_id    text        NOT NULL,
  kind           text        NOT NULL CHECK (kind IN ('PURCHASE', 'CONSUME', 'TRY', 'CONFIRM', 'CANCEL', 'TIMEOUT',
                                                      'REFUND', 'EXPIRE', 'REACTIVATE', 'FREEZE', 'UNFREEZE')),
  from_bucket    text        NOT NULL,
  to_bucket      text        NOT NULL,
  quantity       bigint      NOT NULL CHECK (quantity >= 0),
  value_minor    bigint      NOT NULL CHECK (value_minor >= 0),
  consumption_id text,
  transfer_id    uuid,
  request_id     text,
  -- The accounting date account's postings get at the same moment: monthly
  -- revenue recognition sums consumed value by it.
  accounting_date date       NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sv_movements_date_idx ON sv_movements (accounting_date, contract_id);
CREATE INDEX sv_movements_lot_idx ON sv_movements (lot_id, movement_id);
CREATE INDEX sv_movements_contract_idx ON sv_movements (contract_id, movement_id);

-- Operator actions on lots (reactivation), who and why.
CREATE TABLE sv_audit (
  id          bigserial   PRIMARY KEY,
  action      text        NOT NULL,
  lot_id      uuid        NOT NULL REFERENCES sv_lots (lot_id),
  operator    text        NOT NULL CHECK (length(operator) BETWEEN 1 AND 64),
  reason      text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 256),
  request_id  text        NOT NULL,
  detail      jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Monthly revenue recognition, one row per contract and month: the net
-- consumed value of the month's movements (consumptions minus refunds),
-- posted Dr unearned revenue / Cr stored-value revenue (reversed when
-- negative). The primary key makes a rerun post nothing twice.
CREATE TABLE sv_recognitions (
  contract_id  text        NOT NULL REFERENCES sv_contracts (contract_id),
  period       char(7)     NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  value_minor  bigint      NOT NULL,
  currency     text        NOT NULL,
  transfer_id  uuid,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (contract_id, period),
  CONSTRAINT sv_recognitions_posting_check CHECK ((value_minor = 0) = (transfer_id IS NULL))
);

-- Daily stored-value reconciliation: one row per scope (contract, member,
-- platform) per accounting date. total comes from the purchase movements,
-- the buckets from the lots; difference = total − the buckets. A balanced
-- difference carries the adjusting transfer (the audit trail of the action).
CREATE TABLE sv_recon_rows (
  accounting_date     date        NOT NULL,
  level               text        NOT NULL CHECK (level IN ('CONTRACT', 'MEMBER', 'PLATFORM')),
  scope_key           text        NOT NULL,
  currency            text        NOT NULL,
  total_quantity      numeric     NOT NULL,
  total_value         numeric     NOT NULL,
  consumed_quantity   numeric     NOT NULL,
  consumed_value      numeric     NOT NULL,
  available_quantity  numeric     NOT NULL,
  available_value     numeric     NOT NULL,
  held_quantity       numeric     NOT NULL,
  held_value          numeric     NOT NULL,
  frozen_quantity     numeric     NOT NULL,
  frozen_value        numeric     NOT NULL,
  expired_quantity    numeric     NOT NULL,
  expired_value       numeric     NOT NULL,
  difference_quantity numeric     NOT NULL,
  difference_value    numeric     NOT NULL,
  difference_class    text        NOT NULL CHECK (difference_class IN ('NONE', 'GENERAL', 'LARGE', 'EXTREME')),
  action              text        CHECK (action IN ('ALARM', 'BALANCE')),
  transfer_id         uuid,
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (accounting_date, level, scope_key, currency),
  CONSTRAINT sv_recon_rows_class_check CHECK ((difference_class = 'NONE') = (action IS NULL))
);
CREATE INDEX sv_recon_rows_class_idx ON sv_recon_rows (accounting_date, difference_class) WHERE difference_class <> 'NONE';
