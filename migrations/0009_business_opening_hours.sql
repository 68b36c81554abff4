-- When a promised call-back may be placed: the business's opening hours on Israel's wall clock, as
-- text like `sun-thu 09:00-18:00, fri 09:00-13:00` (or `always`). NULL means the default,
-- Sunday to Thursday 09:00-18:00.
ALTER TABLE businesses ADD COLUMN opening_hours TEXT;
