-- The tools a business declares (see the README's "Business tools"), as canonical JSON; NULL means none.
-- The secret signing the requests to them: 64 hex digits, made when the business first gets tools and
-- kept while they change (and when they are cleared, so tools added back verify the same way).
ALTER TABLE businesses ADD COLUMN tools TEXT;
ALTER TABLE businesses ADD COLUMN tools_secret TEXT;
