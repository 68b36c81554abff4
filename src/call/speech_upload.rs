//! What of the caller's speech goes to a realtime recogniser, and where a turn's audio is committed:
//! [`SpeechUpload`], synchronous. The line feeds it each endpointer event and, after each frame, the
//! open utterance's audio; it tells an [`Upload`] what to send.
//!
//! The recogniser gets exactly the audio of each utterance as the endpointer holds it (pre-roll,
//! speech, the silence before its end) and nothing between utterances, so a commit is transcribed
//! from the same audio a batch upload of that utterance would carry. An eager guess is committed at
//! once (its transcript may start a preemptive reply) and the silence after it is held back; when the
//! caller resumes, the whole utterance is sent again and committed where it ends, so every
//! transcript covers its utterance from the start, as the batch path's do. A resumed guess costs one
//! more upload of the utterance, nothing else.

use sicha_audio::endpoint::EndpointEvent;

use crate::providers::realtime_stt::{StreamGone, TranscriptionSender, TurnTicket};

/// Where the audio goes: a realtime transcription stream (or a recorder, in tests).
pub trait Upload {
    /// Queues caller audio (8 kHz PCM, as the endpointer holds it).
    fn append(&mut self, pcm: &[i16]) -> Result<(), StreamGone>;
    /// Ends a turn: everything appended since the last commit or clear is its audio.
    fn commit(&mut self) -> Result<TurnTicket, StreamGone>;
    /// Drops what was appended since the last commit.
    fn clear(&mut self) -> Result<(), StreamGone>;
}

/// The line's position in the open utterance. See the module docs.
#[derive(Debug, Default)]
pub struct SpeechUpload {
    /// Samples of the open utterance appended since it opened (or since the caller resumed).
    sent: usize,
    /// A guess was committed and the caller has not resumed: the silence after it is not sent.
    holding: bool,
}

impl SpeechUpload {
    /// One endpointer event, in stream order. Returns the ticket of the commit this event made:
    /// the transcript that will answer for the turn the event ends (or guesses).
    pub fn on_event(
        &mut self,
        event: &EndpointEvent,
        upload: &mut impl Upload,
    ) -> Result<Option<TurnTicket>, StreamGone> {
        match event {
            EndpointEvent::SpeechStarted { .. } => {
                // The audio of a new utterance follows this frame (see `after_frame`).
                self.sent = 0;
                self.holding = false;
                Ok(None)
            }
            EndpointEvent::Tentative(guess) => {
                upload.append(unsent(&guess.pcm, self.sent))?;
                self.sent = guess.pcm.len();
                self.holding = true;
                upload.commit().map(Some)
            }
            EndpointEvent::Resumed { .. } => {
                // The guess's audio was committed with it: the longer utterance goes whole.
                self.sent = 0;
                self.holding = false;
                Ok(None)
            }
            EndpointEvent::Utterance(utterance) => {
                let guessed = std::mem::take(&mut self.holding);
                let unsent = unsent(&utterance.pcm, self.sent);
                self.sent = 0;
                if guessed {
                    // The guess was this utterance (the caller did not resume): its commit stands.
                    return Ok(None);
                }
                upload.append(unsent)?;
                upload.commit().map(Some)
            }
            EndpointEvent::Discarded { .. } => {
                let appended = std::mem::take(&mut self.sent) > 0;
                self.holding = false;
                if appended {
                    upload.clear()?;
                }
                Ok(None)
            }
        }
    }

    /// After a frame's events: sends what the open utterance gained (`open`: the endpointer's open
    /// utterance, if any). A stream that joins mid-utterance starts with the whole of it.
    pub fn after_frame(
        &mut self,
        open: Option<&[i16]>,
        upload: &mut impl Upload,
    ) -> Result<(), StreamGone> {
        let Some(open) = open else {
            return Ok(());
        };
        if self.holding || open.len() <= self.sent {
            return Ok(());
        }
        upload.append(&open[self.sent..])?;
        self.sent = open.len();
        Ok(())
    }
}

fn unsent(pcm: &[i16], sent: usize) -> &[i16] {
    pcm.get(sent..).unwrap_or_default()
}

/// The realtime stream as an [`Upload`]: PCM goes back to the μ-law it was decoded from, and
/// frames are sent [`APPEND_BYTES`] at a time (a commit or clear sends or drops what is pending
/// first, so a turn's audio is whole and never late): a socket write per 20 ms frame per call is
/// most of what streaming costs the server and the recogniser.
pub struct StreamUpload {
    sender: TranscriptionSender,
    /// μ-law not yet sent.
    pending: Vec<u8>,
}

/// Audio sent to the recogniser in one append while the caller speaks: 100 ms.
pub const APPEND_BYTES: usize = 800;

impl StreamUpload {
    pub fn new(sender: TranscriptionSender) -> Self {
        Self {
            sender,
            pending: Vec::with_capacity(2 * APPEND_BYTES),
        }
    }

    fn flush(&mut self) -> Result<(), StreamGone> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let sent = self.sender.append(&self.pending);
        self.pending.clear();
        sent
    }
}

impl Upload for StreamUpload {
    fn append(&mut self, pcm: &[i16]) -> Result<(), StreamGone> {
        let from = self.pending.len();
        self.pending.resize(from + pcm.len(), 0);
        sicha_audio::mulaw::encode_into(pcm, &mut self.pending[from..]);
        if self.pending.len() >= APPEND_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<TurnTicket, StreamGone> {
        self.flush()?;
        self.sender.commit()
    }

    fn clear(&mut self) -> Result<(), StreamGone> {
        self.pending.clear();
        self.sender.clear()
    }
}

#[cfg(test)]
mod tests {
    use sicha_audio::endpoint::{EndpointConfig, Endpointer, Utterance};

    use super::*;

    /// What a recogniser was sent: each commit's audio, and what was cleared.
    #[derive(Default)]
    struct Recorder {
        buffer: Vec<i16>,
        commits: Vec<Vec<i16>>,
        cleared: Vec<Vec<i16>>,
    }

    impl Upload for Recorder {
        fn append(&mut self, pcm: &[i16]) -> Result<(), StreamGone> {
            self.buffer.extend_from_slice(pcm);
            Ok(())
        }
        fn commit(&mut self) -> Result<TurnTicket, StreamGone> {
            self.commits.push(std::mem::take(&mut self.buffer));
            Ok(TurnTicket(self.commits.len() as u64))
        }
        fn clear(&mut self) -> Result<(), StreamGone> {
            self.cleared.push(std::mem::take(&mut self.buffer));
            Ok(())
        }
    }

    /// Deterministic speech-like bursts over hiss: `(speech ms, pause ms)` after 600 ms of hiss.
    fn line(segments: &[(usize, usize)]) -> Vec<i16> {
        let hiss = |n: usize, seed: usize| -> Vec<i16> {
            (0..n)
                .map(|i| (((i * 7919 + seed * 104_729) % 61) as i16) - 30)
                .collect()
        };
        let voice = |n: usize| -> Vec<i16> {
            (0..n)
                .map(|i| {
                    let t = i as f32 / 8000.0;
                    let sum: f32 = (1..=12)
                        .map(|k| {
                            (2.0 * std::f32::consts::PI * 150.0 * k as f32 * t).sin() / k as f32
                        })
                        .sum();
                    (sum * 4000.0) as i16
                })
                .collect()
        };
        let mut out = hiss(4800, 0);
        for (index, &(speech, pause)) in segments.iter().enumerate() {
            out.extend(voice(speech * 8));
            out.extend(hiss(pause * 8, index + 1));
        }
        out
    }

    /// Runs the endpointer over `pcm` frame by frame as the line does; returns the events with the
    /// tickets their commits got, and what the recogniser was sent.
    fn stream(
        config: EndpointConfig,
        pcm: &[i16],
    ) -> (Vec<(EndpointEvent, Option<TurnTicket>)>, Recorder) {
        let mut endpointer = Endpointer::new(config);
        let mut upload = SpeechUpload::default();
        let mut recorder = Recorder::default();
        let mut seen = Vec::new();
        for frame in pcm.chunks(160) {
            let mut events = Vec::new();
            endpointer.push(frame, |event| events.push(event));
            for event in events {
                let ticket = upload.on_event(&event, &mut recorder).unwrap();
                seen.push((event, ticket));
            }
            upload
                .after_frame(endpointer.open_audio(), &mut recorder)
                .unwrap();
        }
        (seen, recorder)
    }

    fn closed(
        events: &[(EndpointEvent, Option<TurnTicket>)],
    ) -> Vec<(&Utterance, Option<TurnTicket>)> {
        events
            .iter()
            .filter_map(|(event, ticket)| match event {
                EndpointEvent::Utterance(u) => Some((u, *ticket)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_utterance_is_committed_with_exactly_its_audio() {
        let (events, recorder) = stream(
            EndpointConfig::default(),
            &line(&[(700, 1500), (900, 1500)]),
        );
        let utterances = closed(&events);
        assert_eq!(utterances.len(), 2);
        assert_eq!(recorder.commits.len(), 2);
        for (index, (utterance, ticket)) in utterances.iter().enumerate() {
            assert_eq!(*ticket, Some(TurnTicket(index as u64 + 1)));
            assert_eq!(recorder.commits[index], utterance.pcm, "utterance {index}");
        }
        assert!(recorder.buffer.is_empty(), "nothing between utterances");
    }

    #[test]
    fn a_guess_is_committed_at_once_and_stands_when_the_caller_is_done() {
        let config = EndpointConfig {
            eager_ms: Some(200),
            ..EndpointConfig::default()
        };
        let (events, recorder) = stream(config, &line(&[(700, 1500)]));
        let guess = events
            .iter()
            .find_map(|(event, ticket)| match event {
                EndpointEvent::Tentative(guess) => Some((guess, *ticket)),
                _ => None,
            })
            .expect("a guess");
        assert_eq!(guess.1, Some(TurnTicket(1)));
        assert_eq!(recorder.commits, std::slice::from_ref(&guess.0.pcm));
        // The utterance confirms the guess: no second commit, and the silence after the guess
        // was never sent.
        assert_eq!(closed(&events)[0].1, None);
        assert!(recorder.buffer.is_empty());
    }

    #[test]
    fn a_resumed_guess_is_sent_again_whole_and_committed_where_the_utterance_ends() {
        let config = EndpointConfig {
            eager_ms: Some(200),
            ..EndpointConfig::default()
        };
        // A 400 ms pause: past the guess, inside the hangover.
        let (events, recorder) = stream(config, &line(&[(600, 400), (600, 1500)]));
        let tickets: Vec<_> = events.iter().filter_map(|(_, ticket)| *ticket).collect();
        // The first guess, the second guess (after the pause); the utterance confirms the second.
        assert_eq!(tickets, [TurnTicket(1), TurnTicket(2)]);
        let utterance = closed(&events)[0].0;
        assert!(utterance.pcm.starts_with(&recorder.commits[1]));
        assert!(recorder.commits[1].len() > recorder.commits[0].len());
        assert!(
            recorder.commits[1].starts_with(&recorder.commits[0]),
            "from the start again"
        );
    }

    #[test]
    fn a_stream_that_joins_mid_utterance_sends_it_from_its_start() {
        let config = EndpointConfig::default();
        let pcm = line(&[(900, 1500)]);
        let mut endpointer = Endpointer::new(config);
        let mut upload = SpeechUpload::default();
        let mut recorder = Recorder::default();
        let mut closed = None;
        for (index, frame) in pcm.chunks(160).enumerate() {
            let mut events = Vec::new();
            endpointer.push(frame, |event| events.push(event));
            // The stream joins 300 ms into the speech: the events before were not seen.
            if index < 30 + 30 {
                continue;
            }
            for event in events {
                upload.on_event(&event, &mut recorder).unwrap();
                if let EndpointEvent::Utterance(u) = event {
                    closed = Some(u);
                }
            }
            upload
                .after_frame(endpointer.open_audio(), &mut recorder)
                .unwrap();
        }
        assert_eq!(recorder.commits, [closed.expect("one utterance").pcm]);
    }

    #[test]
    fn a_discarded_burst_is_cleared() {
        // 100 ms: confirmed as speech, too short to be an utterance.
        let (events, recorder) = stream(EndpointConfig::default(), &line(&[(160, 1500)]));
        assert!(
            events
                .iter()
                .any(|(event, _)| matches!(event, EndpointEvent::Discarded { .. })),
            "{events:?}"
        );
        assert!(recorder.commits.is_empty());
        assert_eq!(recorder.cleared.len(), 1);
        assert!(recorder.buffer.is_empty());
    }
}
