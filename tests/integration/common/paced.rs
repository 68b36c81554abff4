//! A caller speaking at the pace of a real line, timing what they hear after their speech ends.

use std::time::Duration;

use sicha::twilio::stream::Outbound;
use sicha_sim::twilio_caller::{MediaStreamClient, Received};
use tokio::time::Instant;

use super::{fixture_mulaw, fixtures_dir, silence};

/// The caller says `fixture` at the pace of a real line (a frame every 20 ms, from up to 1 s before
/// its labelled speech, so the VAD has heard the line's quiet first), then stays quiet for the endpointer, and waits up to `wait` for the agent's
/// first audio after the end of that speech. Returns how long after the end of speech it came
/// (`None`: nothing came). Audio still playing from before the speech ended does not count; marks
/// are echoed all along, as Twilio does.
pub async fn speak_and_time_answer(
    stream: &mut MediaStreamClient,
    fixture: &str,
    wait: Duration,
) -> Option<Duration> {
    let label: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join(fixture.replace(".wav", ".json"))).unwrap(),
    )
    .unwrap();
    let spans = label["speech"].as_array().expect("a labelled fixture");
    let speech_start = spans[0][0].as_u64().unwrap() as usize;
    let speech_end = spans[spans.len() - 1][1].as_u64().unwrap() as usize;
    let lead = speech_start.saturating_sub(8000);
    let mut audio = fixture_mulaw(fixture)[lead..speech_end].to_vec();
    let speech_end = speech_end - lead;
    audio.extend(silence(900));
    let mut pace = tokio::time::interval(Duration::from_millis(20));
    let mut spoke_until: Option<Instant> = None;
    for (n, frame) in audio.chunks(160).enumerate() {
        pace.tick().await;
        stream.send_audio(frame).await.unwrap();
        if (n + 1) * 160 >= speech_end && spoke_until.is_none() {
            spoke_until = Some(Instant::now());
        }
        // What the server sent meanwhile, as it arrives.
        while let Some(received) = stream.recv(Duration::ZERO).await.unwrap() {
            if let Some(answered) = answer_audio(stream, received, spoke_until).await {
                return answered;
            }
        }
    }
    let spoke_until = spoke_until.expect("the speech ends inside the audio");
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let received = stream.recv(left).await.unwrap()?;
        if let Some(answered) = answer_audio(stream, received, Some(spoke_until)).await {
            return answered;
        }
    }
}

/// Echoes a mark; for agent audio after the end of speech, how long after it came. `Some(None)`:
/// the socket closed.
async fn answer_audio(
    stream: &mut MediaStreamClient,
    received: Received,
    spoke_until: Option<Instant>,
) -> Option<Option<Duration>> {
    match received {
        Received::Message(Outbound::Media { .. }) => spoke_until.map(|at| Some(at.elapsed())),
        Received::Message(Outbound::Mark { mark, .. }) => {
            stream.send_mark(&mark.name).await.unwrap();
            None
        }
        Received::Message(Outbound::Clear { .. }) => None,
        Received::Closed(_) => Some(None),
    }
}
