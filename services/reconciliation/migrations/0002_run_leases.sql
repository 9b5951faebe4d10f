-- The run lease of a (channel number, bill date): one replica at a time
-- downloads, imports, matches, handles and reports a day. A holder renews it
-- while it works; a holder killed without releasing it (SIGKILL, lost host)
-- leaves a row whose expires_at passes, and the next caller or the resume
-- worker takes it over. Times are the database's clock, so replicas agree.
CREATE TABLE run_leases (
  channel_no  text        NOT NULL,
  bill_date   date        NOT NULL,
  owner       text        NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (channel_no, bill_date)
);
