-- The two tables written a million rows at a time (statement_lines by COPY,
-- results by one INSERT … SELECT) lose their foreign keys: Postgres checks a
-- foreign key with one trigger call per inserted row, which cost about 3 s per
-- million rows each (EXPLAIN ANALYZE: "Trigger for constraint
-- results_run_id_fkey: calls=1000000"), a third of the matching statement.
-- The parent row (statement_files, runs) is inserted by the same transaction
-- just before its children, and no code deletes either parent, so the
-- reference still holds by construction (ADR 0055). Every other foreign key
-- stays.
ALTER TABLE statement_lines DROP CONSTRAINT statement_lines_file_id_fkey;
ALTER TABLE results DROP CONSTRAINT results_run_id_fkey;

-- The lines' (file, merchant order number) index was kept up row by row by
-- every COPY (a million random inserts into a text B-tree: about 5 s of a
-- million-line COPY). Its one reader, matching held items against a new file,
-- now joins the day's analysed temporary copy of the lines instead.
DROP INDEX statement_lines_order_idx;
