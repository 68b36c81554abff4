-- For an answer started before the end of the caller's turn was confirmed (a preemptive reply): how
-- long before the confirmation it had started. Its provider stages ran partly or wholly inside the
-- hangover, so only what was left of them is on the caller's wait. 0 for answers started at the
-- confirmation; NULL on caller turns and on answers recorded before this was measured.
ALTER TABLE turns ADD COLUMN head_start_ms BIGINT;
