//! The stage between the wire and the call: one per media stream, run inside the stream's socket loop
//! (so the endpointer sees frames in order, with no queue in between). It turns Twilio's μ-law into
//! PCM, cuts it into speech events with the endpointer, and hands the session what it needs: speech
//! events, marks and keys on the control path, and the caller's PCM on the audio path while the call
//! is recorded. With realtime transcription it also streams each utterance to the recogniser as it
//! is spoken ([`SpeechUpload`]), and tells the session which commit each speech event made.

use sicha_audio::endpoint::{EndpointConfig, EndpointEvent, Endpointer};
use sicha_audio::frame::FRAME_SAMPLES;
use sicha_audio::mulaw;
use tokio::sync::mpsc;

use super::core::Input;
use super::realtime_turns::{StreamedAudio, StreamedTurn};
use super::session::Control;
use super::speech_upload::{SpeechUpload, StreamUpload};
use crate::twilio::socket::{StreamEnd, StreamEvent, StreamHandler};

pub struct Line {
    stream_sid: String,
    /// The session's control inbox (the session owns the receiver).
    control: mpsc::Sender<Control>,
    /// The session's recording path, while the call is recorded.
    caller_audio: Option<mpsc::Sender<Vec<i16>>>,
    endpointer: Endpointer,
    transcription: Transcription,
    /// Reused for every frame.
    pcm: Vec<i16>,
    events: Vec<EndpointEvent>,
}

/// This media stream's realtime transcription.
#[derive(Default)]
struct Transcription {
    /// Where the session hands over realtime streams (the first, and one after a break); checked
    /// between frames. `None`: not configured, or the session stopped sending.
    arriving: Option<mpsc::Receiver<StreamedAudio>>,
    /// The stream utterances go to as they are spoken (its number, and where this line is in the
    /// open utterance); `None` until one arrives and after it broke (utterances are then
    /// uploaded). Dropping it closes the stream.
    open: Option<(u64, StreamUpload, SpeechUpload)>,
}

impl Line {
    /// `transcription`: where the session hands over a realtime stream's audio side, when calls
    /// transcribe in realtime.
    pub fn new(
        stream_sid: String,
        control: mpsc::Sender<Control>,
        caller_audio: Option<mpsc::Sender<Vec<i16>>>,
        endpoint: EndpointConfig,
        transcription: Option<mpsc::Receiver<StreamedAudio>>,
    ) -> Self {
        Self {
            stream_sid,
            control,
            caller_audio,
            endpointer: Endpointer::new(endpoint),
            transcription: Transcription {
                arriving: transcription,
                open: None,
            },
            pcm: Vec::with_capacity(FRAME_SAMPLES * 4),
            events: Vec::new(),
        }
    }

    async fn tell(&self, message: Control) -> bool {
        self.control.send(message).await.is_ok()
    }

    /// Takes a realtime stream's audio side when the session has opened one. A stream that joins
    /// mid-utterance starts with the whole of it.
    fn poll_transcription(&mut self) {
        let Some(arriving) = &mut self.transcription.arriving else {
            return;
        };
        match arriving.try_recv() {
            Ok(audio) => {
                let stream = StreamUpload::new(audio.sender);
                self.transcription.open = Some((audio.generation, stream, SpeechUpload::default()));
            }
            Err(mpsc::error::TryRecvError::Empty) => {}
            Err(mpsc::error::TryRecvError::Disconnected) => self.transcription.arriving = None,
        }
    }

    /// Streams this frame's share of the caller's speech; returns the commit each event made. A
    /// stream that is gone is let go (its turns fall back to upload; the session logs the break).
    fn stream_speech(&mut self, events: &[EndpointEvent]) -> Vec<Option<StreamedTurn>> {
        let mut commits = vec![None; events.len()];
        let Some((generation, sink, upload)) = &mut self.transcription.open else {
            return commits;
        };
        let generation = *generation;
        let streamed = events
            .iter()
            .zip(commits.iter_mut())
            .try_for_each(|(event, commit)| {
                let ticket = upload.on_event(event, sink)?;
                *commit = ticket.map(|ticket| StreamedTurn { generation, ticket });
                Ok(())
            })
            .and_then(|()| upload.after_frame(self.endpointer.open_audio(), sink));
        if streamed.is_err() {
            self.transcription.open = None;
        }
        commits
    }
}

impl StreamHandler for Line {
    async fn on_event(&mut self, event: StreamEvent<'_>) -> bool {
        match event {
            StreamEvent::Media(codes) => {
                self.pcm.resize(codes.len(), 0);
                mulaw::decode_into(codes, &mut self.pcm);
                let events = &mut self.events;
                self.endpointer.push(&self.pcm, |event| events.push(event));
                if let Some(recording) = &self.caller_audio
                    && recording.send(self.pcm.clone()).await.is_err()
                {
                    return false;
                }
                self.poll_transcription();
                let events = std::mem::take(&mut self.events);
                let commits = self.stream_speech(&events);
                for (event, streamed) in events.into_iter().zip(commits) {
                    if !self.tell(Control::Speech { event, streamed }).await {
                        return false;
                    }
                }
                true
            }
            StreamEvent::Mark(name) => self.tell(Control::Input(Input::MarkPlayed(name))).await,
            StreamEvent::Dtmf(digit) => self.tell(Control::Input(Input::Dtmf(digit))).await,
        }
    }

    async fn on_end(self, end: StreamEnd) {
        // A session already gone has nobody to tell.
        let stream_sid = self.stream_sid.clone();
        let _ = self
            .tell(Control::Input(Input::StreamEnded { stream_sid, end }))
            .await;
    }
}
