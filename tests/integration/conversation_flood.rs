//! Control before audio: a barge-in's `clear` goes out as fast while the call's audio paths are
//! flooded (a long answer synthesised far ahead of playback, and the caller's audio being recorded)
//! as on a quiet call with a one-sentence answer.

use crate::common;

use std::time::Duration;

use crate::common::databases::for_each_engine;
use common::{fixture_mulaw, line, listen};
use sicha::twilio::stream::Outbound;
use sicha_sim::openai::ChatRule;
use sicha_sim::twilio_caller::Received;
use tokio::time::Instant;

/// How long after the caller's first frame the `clear` must arrive: the fixture's lead-in before the
/// speech, the 120 ms of speech the endpointer needs to hear a barge-in, and the server's own time (a
/// few milliseconds on a quiet machine). Generous, because the test machine is shared; the
/// comparison with the quiet call is the point.
const BUDGET: Duration = Duration::from_millis(2000);

/// How long the server must stay quiet for the greeting to count as finished.
const QUIET: Duration = Duration::from_millis(1200);

/// Twilio's frame interval.
const FRAME: Duration = Duration::from_millis(20);

/// What the flooded call may take beyond the quiet one.
const MARGIN: Duration = Duration::from_millis(250);

#[tokio::test]
async fn a_barge_in_is_cleared_as_fast_under_a_flood_of_audio_as_on_a_quiet_call() {
    for_each_engine(|db| async move {
        let recordings = tempfile::tempdir().unwrap();
        let dir = recordings.path().to_str().unwrap().to_string();
        let w = common::ai_world(&db, "openai", &[("SICHA_RECORDINGS_DIR", dir.as_str())]).await;
        w.openai.add_chat_rule(ChatRule::reply("קצרה", "כן."));
        let long: Vec<String> = (1..=40)
            .map(|i| format!("זה המשפט ה{i} בתשובה ארוכה מאוד על כל השירותים שלנו."))
            .collect();
        w.openai
            .add_chat_rule(ChatRule::reply("ארוכה", &long.join(" ")));

        w.openai.push_transcripts(["תשובה קצרה בבקשה"]);
        let quiet = time_to_clear(&w, "CA330").await;
        w.openai.push_transcripts(["תשובה ארוכה בבקשה"]);
        let flooded = time_to_clear(&w, "CA331").await;
        eprintln!("clear after the caller's first frame: quiet {quiet:?}, flooded {flooded:?}");
        assert!(
            flooded <= quiet + MARGIN && flooded <= BUDGET,
            "clear after {flooded:?} on a flooded call, {quiet:?} on a quiet one"
        );
        w.app.shutdown().await;
    })
    .await;
}

/// Places a call, asks for the answer, and talks over it as soon as its audio flows, marks not
/// echoed (all of it is still "playing"). Returns the time from the first frame of the caller's
/// speech to the server's `clear`.
async fn time_to_clear(w: &common::AiWorld, call_sid: &str) -> Duration {
    let mut stream = w.app.connect_call(call_sid).await;
    listen(&mut stream, QUIET, true).await;
    stream
        .send_audio(&line("single/u03_booking.wav"))
        .await
        .unwrap();
    loop {
        match stream.recv(Duration::from_secs(15)).await.unwrap() {
            Some(Received::Message(Outbound::Media { .. })) => break,
            Some(_) => {}
            None => panic!("no answer on {call_sid}"),
        }
    }
    let speech = fixture_mulaw("single/u05_haircut_price.wav");
    let started = Instant::now();
    let mut frames = speech.chunks(160);
    let mut next_frame_at = started;
    let cleared = loop {
        // One frame every 20 ms, as Twilio sends them, reading whatever the server sends meanwhile.
        if Instant::now() >= next_frame_at {
            if let Some(frame) = frames.next() {
                stream.send_media(frame).await.unwrap();
            }
            next_frame_at += FRAME;
        }
        let wait = next_frame_at.saturating_duration_since(Instant::now());
        match stream
            .recv(wait.max(Duration::from_millis(1)))
            .await
            .unwrap()
        {
            Some(Received::Message(Outbound::Clear { .. })) => break started.elapsed(),
            Some(Received::Closed(code)) => panic!("{call_sid} closed: {code:?}"),
            _ if started.elapsed() > Duration::from_secs(10) => panic!("no clear on {call_sid}"),
            _ => {}
        }
    };
    stream.send_stop(call_sid).await.unwrap();
    w.app
        .wait_for_call(call_sid, |c| c.ended_at_ms.is_some())
        .await;
    cleared
}
