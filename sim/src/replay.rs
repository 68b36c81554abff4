//! Replays a recorded Media Streams session (`sicha serve --record-streams`) against a server: a fresh
//! call through the signed webhook, then every recorded inbound message at its recorded offset. The
//! messages go out as they were recorded, bad ones included, with three rewrites that a new call
//! needs: the `start` carries the new CallSid, streamSid and stream token, every message the new
//! streamSid, and recorded `mark` echoes are dropped (they answered the old server's marks; this
//! replay echoes the new server's marks as they arrive, as if playback were instant).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use url::Url;

use super::twilio_caller::{CallerError, MediaStreamClient, Received, place_call, stream_target};
use sicha::twilio::stream::Outbound;
use sicha::twilio::stream_log::LoggedMessage;

/// What a replay did and saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub call_sid: String,
    pub sent: usize,
    /// Recorded mark echoes left out.
    pub marks_skipped: usize,
    /// Agent audio received, in ms (media messages may carry any length).
    pub audio_received_ms: u64,
    pub marks_echoed: usize,
    pub clears: usize,
    /// The server closed the socket (with this code when it gave one).
    pub closed: Option<Option<u16>>,
}

/// How long to keep listening after the last recorded message.
const LINGER: Duration = Duration::from_millis(1500);

pub async fn replay(
    http: &reqwest::Client,
    server: &Url,
    auth_token: Option<&str>,
    from: &str,
    to: &str,
    call_sid: &str,
    log: &[LoggedMessage],
) -> Result<ReplayReport, CallerError> {
    let answer = place_call(http, server, auth_token, call_sid, from, to).await?;
    let target = stream_target(&answer.twiml)?;
    let stream_sid = format!("MZreplay{}", &call_sid.trim_start_matches("CA"));
    let mut client = MediaStreamClient::connect(&target.url, auth_token, &stream_sid).await?;
    let mut report = ReplayReport {
        call_sid: call_sid.to_string(),
        ..ReplayReport::default()
    };
    let started = Instant::now();
    for message in log {
        let Some(text) = rewrite(&message.text, call_sid, &stream_sid, &target.parameters) else {
            report.marks_skipped += 1;
            continue;
        };
        let due = started + Duration::from_millis(message.at_ms);
        if listen_until(&mut client, due, &mut report).await? {
            return Ok(report);
        }
        client.send_text(text).await?;
        report.sent += 1;
    }
    listen_until(&mut client, Instant::now() + LINGER, &mut report).await?;
    Ok(report)
}

/// The recorded text as this call must send it, or `None` for a recorded mark echo. Text that is not
/// JSON is sent exactly as recorded.
fn rewrite(
    text: &str,
    call_sid: &str,
    stream_sid: &str,
    parameters: &[(String, String)],
) -> Option<String> {
    let Ok(mut value) = serde_json::from_str::<Value>(text) else {
        return Some(text.to_string());
    };
    let Some(object) = value.as_object_mut() else {
        return Some(text.to_string());
    };
    match object.get("event").and_then(Value::as_str) {
        Some("mark") => return None,
        Some("start") => {
            if let Some(start) = object.get_mut("start").and_then(Value::as_object_mut) {
                start.insert("callSid".into(), json!(call_sid));
                start.insert("streamSid".into(), json!(stream_sid));
                let custom: serde_json::Map<String, Value> = parameters
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect();
                start.insert("customParameters".into(), Value::Object(custom));
            }
        }
        Some("stop") => {
            if let Some(stop) = object.get_mut("stop").and_then(Value::as_object_mut) {
                stop.insert("callSid".into(), json!(call_sid));
            }
        }
        _ => {}
    }
    if object.contains_key("streamSid") {
        object.insert("streamSid".into(), json!(stream_sid));
    }
    Some(value.to_string())
}

/// Handles what the server sends until `until`; true when the server closed the socket.
async fn listen_until(
    client: &mut MediaStreamClient,
    until: Instant,
    report: &mut ReplayReport,
) -> Result<bool, CallerError> {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        match client.recv(left).await? {
            None => return Ok(false),
            Some(Received::Closed(code)) => {
                report.closed = Some(code);
                return Ok(true);
            }
            Some(Received::Message(Outbound::Media { media, .. })) => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(media.payload.as_bytes())
                    .map_or(0, |codes| codes.len());
                // 8 kHz μ-law: 8 bytes a millisecond.
                report.audio_received_ms += bytes as u64 / 8;
            }
            Some(Received::Message(Outbound::Mark { mark, .. })) => {
                client.send_mark(&mark.name).await?;
                report.marks_echoed += 1;
            }
            Some(Received::Message(Outbound::Clear { .. })) => report.clears += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_gets_the_new_call_and_token_marks_are_dropped_and_garbage_stays() {
        let token = vec![("token".to_string(), "fresh".to_string())];
        let start = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZold","start":{"callSid":"CAold","streamSid":"MZold","customParameters":{"token":"stale"}}}"#;
        let rewritten: Value =
            serde_json::from_str(&rewrite(start, "CAnew", "MZnew", &token).unwrap()).unwrap();
        assert_eq!(rewritten["start"]["callSid"], "CAnew");
        assert_eq!(rewritten["streamSid"], "MZnew");
        assert_eq!(rewritten["start"]["customParameters"]["token"], "fresh");
        assert!(
            rewrite(
                r#"{"event":"mark","streamSid":"MZold","mark":{"name":"p1"}}"#,
                "CA",
                "MZ",
                &token
            )
            .is_none()
        );
        assert_eq!(
            rewrite("{not json", "CA", "MZ", &token).unwrap(),
            "{not json"
        );
    }
}
