-- Funds in transit from a channel to the reserve fund's bank (资金在途), one
-- leaf per settlement bank: settlement's end-of-day deposit move goes through
-- them when a bank is configured with a transit account (ADR 0046). Same
-- rows as DEFAULT_CHART in src/domain/subjects.ts.
INSERT INTO subjects (code, name, category, normal_side, account_kept) VALUES
  ('300102', '资金在途 funds in transit to the reserve bank', 'COMMON', 'BOTH', false),
  ('30010201', '资金在途 settlement bank A (100201)', 'COMMON', 'BOTH', true),
  ('30010202', '资金在途 settlement bank B (100202)', 'COMMON', 'BOTH', true);
