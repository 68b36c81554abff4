-- The server's own share of each agent answer, on its own clock: from the end of the caller's speech
-- being confirmed to the answer's first audio handed to the socket, and how much of that time was
-- still spent waiting for speech-to-text (none when eager transcription had already finished it).
-- NULL on caller turns and on answers recorded before these were measured.
ALTER TABLE turns ADD COLUMN turnaround_ms BIGINT;
ALTER TABLE turns ADD COLUMN stt_wait_ms BIGINT;
