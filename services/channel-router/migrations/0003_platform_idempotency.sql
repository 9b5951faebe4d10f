-- Idempotency moved to the platform's idempotency_claims table (one primitive
-- for every service, claimed in the same transaction as the work): the
-- router's own request table goes. Unverified callbacks are kept as a bounded
-- sample per channel number and window; this index answers "how many were
-- stored lately" without scanning the verified ones.
DROP TABLE requests;
CREATE INDEX notifications_unverified_idx ON notifications (channel_no, received_at) WHERE NOT verified;
