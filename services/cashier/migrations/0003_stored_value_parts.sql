-- Stored-value parts that spend lots (account's StoredValueService) rather
-- than the stored-value money account: the part keeps which units it spends,
-- so every TryConsume / ConfirmConsume / CancelConsume of it is derived from
-- stored fields; a refund keeps the units it returns, fixed when it is
-- recorded (docs/adr/0035).
ALTER TABLE payment_parts
  ADD COLUMN sv_asset            text,
  ADD COLUMN sv_quantity         bigint,
  ADD COLUMN sv_consumption_type text,
  ADD CONSTRAINT payment_parts_stored_value CHECK (
    (sv_asset IS NULL AND sv_quantity IS NULL AND sv_consumption_type IS NULL)
    OR (kind = 'STORED_VALUE' AND sv_asset IS NOT NULL AND sv_quantity > 0 AND sv_consumption_type IS NOT NULL)
  );

ALTER TABLE refund_parts
  ADD COLUMN sv_quantity bigint CHECK (sv_quantity >= 0);
