-- Calls sicha places itself (call-backs) beside the calls it answers: `direction` is `inbound` or
-- `outbound`, and an outbound call names the call that asked for it in `parent_call_sid`.
ALTER TABLE calls ADD COLUMN direction TEXT NOT NULL DEFAULT 'inbound';
ALTER TABLE calls ADD COLUMN parent_call_sid TEXT;
CREATE INDEX calls_by_parent ON calls (parent_call_sid);
