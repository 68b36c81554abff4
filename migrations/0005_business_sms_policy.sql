-- Whether the agent may text callers (the send_sms tool), as JSON: {"max_per_call":1,"allowed_links":[...]}.
-- NULL means it may not: texting is opted into per business.
ALTER TABLE businesses ADD COLUMN sms_policy TEXT;
