-- The trace context (traceparent, baggage, Biz-Context) of the request that
-- created each transaction, so the channel's callback and status sync, which
-- arrive without our headers, continue the payment's trace (ADR 0011).
ALTER TABLE transactions ADD COLUMN trace_headers jsonb NOT NULL DEFAULT '{}'::jsonb;
