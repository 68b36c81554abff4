-- Whether the agent starts answering on an eager transcript, holding the audio until the caller's
-- turn is confirmed (faster answers, some model and TTS requests discarded). NULL or 1: on; 0: off.
ALTER TABLE businesses ADD COLUMN preemptive_replies INTEGER;
