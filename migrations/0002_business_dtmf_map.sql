-- What each key the caller presses does, per business, as text: `0=transfer,9=goodbye,*=callback`.
-- NULL means the default map (0 transfers to a person).
ALTER TABLE businesses ADD COLUMN dtmf_map TEXT;
