//! The stage between the wire and the call: one per media stream, run inside the stream's socket loop
//! (so the endpointer sees frames in order, with no queue in between). It turns Twilio's μ-law into
//! PCM, cuts it into speech events with the endpointer, and hands the session what it needs: speech
//! events, marks and keys on the control path, and the caller's PCM on the audio path while the call
//! is recorded.

use sicha_audio::endpoint::{EndpointConfig, EndpointEvent, Endpointer};
use sicha_audio::frame::FRAME_SAMPLES;
use sicha_audio::mulaw;
use tokio::sync::mpsc;

use super::core::Input;
use super::session::Control;
use crate::twilio::socket::{StreamEnd, StreamEvent, StreamHandler};

pub struct Line {
    stream_sid: String,
    /// The session's control inbox (the session owns the receiver).
    control: mpsc::Sender<Control>,
    /// The session's recording path, while the call is recorded.
    caller_audio: Option<mpsc::Sender<Vec<i16>>>,
    endpointer: Endpointer,
    /// Reused for every frame.
    pcm: Vec<i16>,
    events: Vec<EndpointEvent>,
}

impl Line {
    pub fn new(
        stream_sid: String,
        control: mpsc::Sender<Control>,
        caller_audio: Option<mpsc::Sender<Vec<i16>>>,
        endpoint: EndpointConfig,
    ) -> Self {
        Self {
            stream_sid,
            control,
            caller_audio,
            endpointer: Endpointer::new(endpoint),
            pcm: Vec::with_capacity(FRAME_SAMPLES * 4),
            events: Vec::new(),
        }
    }

    async fn tell(&self, input: Input) -> bool {
        self.control.send(Control::Input(input)).await.is_ok()
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
                for event in std::mem::take(&mut self.events) {
                    if !self.tell(Input::Speech(event)).await {
                        return false;
                    }
                }
                true
            }
            StreamEvent::Mark(name) => self.tell(Input::MarkPlayed(name)).await,
            StreamEvent::Dtmf(digit) => self.tell(Input::Dtmf(digit)).await,
        }
    }

    async fn on_end(self, end: StreamEnd) {
        // A session already gone has nobody to tell.
        let stream_sid = self.stream_sid.clone();
        let _ = self.tell(Input::StreamEnded { stream_sid, end }).await;
    }
}
