//! The stream's life in the call: a stream joins (the first is greeted, or told why a call-back
//! calls), a stream ends (the call ends with it, unless Twilio is saying a fallback and will come
//! back).

use serde_json::json;

use crate::call::core::{CallCore, Effect, Ending, Now};
use crate::store::{CallStatus, Record};
use crate::twilio::socket::StreamEnd;

impl CallCore {
    pub(super) fn attached(&mut self, stream_sid: String, now: Now) {
        let first = self.stream_sid.is_none();
        // Whatever an old stream had buffered is gone with it, unheard.
        self.ledger.clear(now.at);
        self.phrases.clear();
        self.awaiting_reconnect = None;
        self.stream_sid = Some(stream_sid.clone());
        self.stream_live = true;
        if first {
            self.hard_deadline = Some(now.at + self.config.max_call);
        }
        self.emit(Effect::Record(Record::Streaming {
            call_sid: self.config.call_sid.clone(),
            at_ms: now.wall_ms,
        }));
        if first {
            self.emit(Effect::StartRecording);
        }
        let kind = if first {
            "stream_started"
        } else {
            "stream_resumed"
        };
        self.event(now, kind, Some(json!({ "stream_sid": stream_sid })));
        if first && let Some(business) = &self.config.business {
            let opening = self.config.opening.as_ref().unwrap_or(&business.greeting);
            let opening = opening.clone();
            self.say(&opening, now);
        }
    }

    pub(super) fn stream_ended(&mut self, stream_sid: &str, end: StreamEnd, now: Now) {
        if self.stream_sid.as_deref() != Some(stream_sid) || !self.stream_live {
            // An older stream of this call closing after its successor attached.
            return;
        }
        self.stream_live = false;
        self.emit(Effect::DetachStream);
        if self.awaiting_reconnect.is_some() {
            // Twilio is saying a fallback and will come back on a new stream.
            return;
        }
        let ending = match end {
            StreamEnd::Stopped => {
                Ending::completed(self.stop_reason.as_deref().unwrap_or("stream_stopped"))
            }
            StreamEnd::Dropped => Ending::with(CallStatus::Dropped, "socket_dropped"),
            StreamEnd::ClosedByServer => Ending::completed("closed_by_server"),
            StreamEnd::Rejected(why) | StreamEnd::LimitExceeded(why) => {
                Ending::with(CallStatus::Failed, &why)
            }
        };
        self.end(ending, now);
    }
}
