-- A day's lines are matched through the per-run temporary table day_lines
-- (indexed there), and held items look lines up with a hash join over the
-- file's lines (found by the primary key's file_id prefix); the second
-- index on statement_lines only slowed the COPY of a million-line bill.
DROP INDEX statement_lines_order_idx;
