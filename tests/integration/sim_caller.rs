//! The simulated Twilio caller: its playback-buffer emulation (marks and `clear` as Twilio does them),
//! a whole scenario with a barge-in against the real app, and `sicha demo` / `sicha call` as the real
//! binary.

use crate::common;

use std::path::Path;
use std::time::Duration;

use crate::common::databases::for_each_engine;
use common::{AUTH_TOKEN, BUSINESS_NUMBER, CALLER_NUMBER, TestApp, spawn_app_with};
use sicha::call::session::AgentMode;
use sicha::startup::ServeOptions;
use sicha::store::CallStatus;
use sicha_sim::caller::{CallerOptions, TraceKind, run_call};
use sicha_sim::openai::{OpenAiSim, SimProfile};
use sicha_sim::playback::PlaybackBuffer;
use sicha_sim::scenario::Scenario;
use sicha_sim::twilio_api::TwilioApiSim;
use tokio::time::Instant;

/// `ms` milliseconds of agent audio (any codes will do: the buffer only counts them).
fn audio(ms: usize) -> Vec<u8> {
    vec![0x55; ms * 8]
}

fn at(origin: Instant, ms: u64) -> Instant {
    origin + Duration::from_millis(ms)
}

// The buffer takes the time of each call as an argument, so these tests state time exactly instead
// of sleeping: nothing here depends on how fast the machine is.

#[test]
fn a_mark_is_echoed_only_once_the_audio_before_it_has_played() {
    let t0 = Instant::now();
    let mut buffer = PlaybackBuffer::new(t0, 1.0);
    buffer.push_audio(t0, &audio(1000));
    assert_eq!(buffer.push_mark(at(t0, 10), "p1"), None, "audio is playing");
    assert_eq!(buffer.next_mark_due(), Some(at(t0, 1000)));
    assert!(buffer.due_marks(at(t0, 999)).is_empty());
    assert_eq!(buffer.due_marks(at(t0, 1000)), ["p1"]);
    assert!(buffer.due_marks(at(t0, 2000)).is_empty(), "echoed once");
    assert!(!buffer.is_playing(at(t0, 1000)));
}

#[test]
fn a_mark_with_nothing_playing_is_echoed_at_once() {
    let t0 = Instant::now();
    let mut buffer = PlaybackBuffer::new(t0, 1.0);
    assert_eq!(buffer.push_mark(t0, "first").as_deref(), Some("first"));
    buffer.push_audio(at(t0, 100), &audio(200));
    assert_eq!(
        buffer.push_mark(at(t0, 400), "after").as_deref(),
        Some("after"),
        "the audio finished at 300 ms"
    );
}

#[test]
fn audio_queues_behind_what_is_playing_and_starts_on_arrival_after_a_gap() {
    let t0 = Instant::now();
    let mut buffer = PlaybackBuffer::new(t0, 1.0);
    buffer.push_audio(t0, &audio(500));
    buffer.push_audio(at(t0, 100), &audio(500)); // arrives while the first plays: queued behind it
    assert_eq!(buffer.push_mark(at(t0, 200), "a"), None);
    assert_eq!(buffer.next_mark_due(), Some(at(t0, 1000)));
    assert_eq!(buffer.due_marks(at(t0, 1000)), ["a"]);
    buffer.push_audio(at(t0, 3000), &audio(200)); // after a silence: plays from its arrival
    let starts: Vec<u64> = buffer.segments().iter().map(|s| s.start_sample).collect();
    assert_eq!(starts, [0, 24_000]);
    assert_eq!(
        buffer.segments()[0].codes.len(),
        8000,
        "contiguous audio is one segment"
    );
    assert!(buffer.is_playing(at(t0, 3100)) && !buffer.is_playing(at(t0, 3200)));
}

#[test]
fn clear_drops_unplayed_audio_and_echoes_pending_marks_at_once() {
    let t0 = Instant::now();
    let mut buffer = PlaybackBuffer::new(t0, 1.0);
    buffer.push_audio(t0, &audio(1000));
    assert_eq!(buffer.push_mark(t0, "s1"), None);
    buffer.push_audio(t0, &audio(1000));
    assert_eq!(buffer.push_mark(t0, "s2"), None);
    let cleared = buffer.clear(at(t0, 500));
    assert_eq!(cleared.marks, ["s1", "s2"]);
    assert_eq!(cleared.dropped_samples, 12_000, "1.5 s never played");
    assert_eq!(
        buffer.total_samples(),
        4000,
        "only the half second heard is kept"
    );
    assert!(!buffer.is_playing(at(t0, 500)));
    assert_eq!(buffer.next_mark_due(), None);
    assert!(
        buffer.due_marks(at(t0, 5000)).is_empty(),
        "cleared marks are not echoed twice"
    );
    // After a clear, new audio plays from its arrival.
    buffer.push_audio(at(t0, 600), &audio(100));
    assert_eq!(buffer.segments().last().unwrap().start_sample, 4800);
}

#[test]
fn a_buffer_without_audio_times_marks_and_clears_the_same() {
    let t0 = Instant::now();
    let mut kept = PlaybackBuffer::new(t0, 1.0);
    let mut timed = PlaybackBuffer::new(t0, 1.0).keeping_audio(false);
    for buffer in [&mut kept, &mut timed] {
        buffer.push_audio(t0, &audio(1000));
        assert_eq!(buffer.push_mark(t0, "s1"), None);
        buffer.push_audio(at(t0, 3000), &audio(1000));
        assert_eq!(buffer.push_mark(at(t0, 3000), "s2"), None);
        assert_eq!(buffer.due_marks(at(t0, 1000)), ["s1"]);
        let cleared = buffer.clear(at(t0, 3250));
        assert_eq!(cleared.marks, ["s2"]);
        assert_eq!(
            cleared.dropped_samples, 6000,
            "750 ms of the second answer never played"
        );
        assert!(!buffer.is_playing(at(t0, 3250)));
    }
    assert_eq!(kept.total_samples(), 8000 + 2000);
    assert!(timed.segments().is_empty());
}

#[test]
fn a_time_lapse_plays_audio_faster() {
    let t0 = Instant::now();
    let mut buffer = PlaybackBuffer::new(t0, 4.0);
    buffer.push_audio(t0, &audio(2000));
    assert_eq!(buffer.push_mark(t0, "m"), None);
    assert_eq!(buffer.next_mark_due(), Some(at(t0, 500)));
    assert_eq!(buffer.due_marks(at(t0, 500)), ["m"]);
}

/// The real app (AI agent) with the simulated providers, the demo business's number taken by the
/// test business.
async fn ai_app(db: &str, openai: &OpenAiSim, twilio: &TwilioApiSim) -> TestApp {
    let openai_base = openai.base_url().to_string();
    let twilio_base = twilio.base_url().to_string();
    let extra = [
        ("OPENAI_BASE_URL", openai_base.as_str()),
        ("TWILIO_API_BASE", twilio_base.as_str()),
        ("SICHA_TTS", "openai"),
    ];
    let options = ServeOptions {
        allow_unsigned: false,
        agent: AgentMode::Ai,
    };
    let app = spawn_app_with(db, &extra, options).await;
    app.add_business(BUSINESS_NUMBER).await;
    app
}

#[tokio::test]
async fn the_demo_scenario_against_the_real_app_times_every_answer_and_the_barge_in() {
    for_each_engine(|db| async move {
        let openai = OpenAiSim::start(SimProfile::instant()).await.unwrap();
        openai.set_espeak(false); // a tone: fast and the same everywhere
        let twilio = TwilioApiSim::start_with("ACtest0000000000000000000000000000", AUTH_TOKEN)
            .await
            .unwrap();
        let scenario = Scenario::demo();
        scenario.teach(&openai);
        let app = ai_app(&db, &openai, &twilio).await;
        // The demo's agent looks the free times up and books through the shop's booking system.
        let booking = sicha_sim::booking_api::BookingApiSim::start()
            .await
            .unwrap();
        sicha_sim::world::give_booking_tools(&app.store, BUSINESS_NUMBER, &booking)
            .await
            .unwrap();
        let mut options =
            CallerOptions::new(app.base.clone(), "CA700", CALLER_NUMBER, BUSINESS_NUMBER);
        options.auth_token = Some(AUTH_TOKEN.to_string());
        options.speed = 4.0;

        let trace = run_call(&options, &scenario, None).await.unwrap();

        assert!(trace.greeting_latency().is_some(), "{:#?}", trace.events);
        let v2v = trace.voice_to_voice_all();
        assert_eq!(v2v.len(), 5, "every line was spoken");
        assert!(
            v2v.iter().all(Option::is_some),
            "every line was answered: {v2v:?}"
        );
        let barge_ins = trace.barge_ins();
        assert_eq!(barge_ins.len(), 1, "{barge_ins:?}");
        assert_eq!(barge_ins[0].line, 2, "the third line cuts in");
        let clear = trace
            .events
            .iter()
            .find_map(|e| match e.kind {
                TraceKind::Clear {
                    dropped_samples, ..
                } => Some(dropped_samples),
                _ => None,
            })
            .unwrap();
        assert!(
            clear > 8000,
            "most of the long answer was never heard: {clear}"
        );
        let received = trace.count(|k| matches!(k, TraceKind::MarkReceived { .. }));
        let echoed = trace.count(|k| matches!(k, TraceKind::MarkEchoed { .. }));
        assert!(
            received >= 6 && echoed == received,
            "{received} marks, {echoed} echoed"
        );
        let (_, voiced) = trace.frames_sent();
        let labelled: usize = scenario
            .lines
            .iter()
            .map(|l| l.voiced.iter().filter(|v| **v).count())
            .sum();
        assert_eq!(
            voiced, labelled,
            "speech frames follow the fixture's labels"
        );
        assert!(trace.agent_seconds_heard() > 5.0);

        let call = app
            .wait_for_call("CA700", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, CallStatus::Completed);
        let turns = app.store.turns_for_call("CA700").await.unwrap();
        let heard: Vec<&str> = turns
            .iter()
            .filter(|t| t.role == sicha::store::turns::ROLE_CALLER)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(
            heard, scenario.transcripts,
            "each line was heard by its audio"
        );
        let cut = turns
            .iter()
            .find(|t| t.interrupted)
            .expect("an interrupted answer");
        // The long list of free times (after "looking in the diary" and the availability tool) was
        // cut: the caller heard its start, not all that was said (how much had been written when the
        // caller cut in depends on the machine's load).
        assert!(cut.text.contains("ביום חמישי"), "{cut:?}");
        let heard = cut.heard_text.as_deref().unwrap_or_default();
        assert!(
            cut.text.starts_with(heard) && heard.len() < cut.text.len(),
            "{cut:?}"
        );
        assert!(
            app.event_kinds("CA700")
                .await
                .contains(&"barge_in".to_string())
        );
        app.shutdown().await;
    })
    .await;
}

/// The loudness of a WAV file's samples, as RMS.
fn wav_rms(path: &Path) -> (f64, f64) {
    let file = std::fs::File::open(path).unwrap();
    let audio = sicha_audio::wav::read_wav(std::io::BufReader::new(file)).unwrap();
    assert_eq!(audio.sample_rate, 8000);
    let energy: f64 = audio.samples.iter().map(|s| f64::from(*s).powi(2)).sum();
    let seconds = audio.samples.len() as f64 / 8000.0;
    ((energy / audio.samples.len().max(1) as f64).sqrt(), seconds)
}

#[test]
fn sicha_demo_plays_a_whole_simulated_call_books_for_real_and_writes_what_was_heard() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("demo.wav");
    let records = dir.path().join("records");
    let output = common::sicha_binary()
        .args(["demo", "--profile", "instant", "--out"])
        .arg(&wav)
        .arg("--keep")
        .arg(&records)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("SIMULATED"), "{stdout}");
    for hebrew in [
        "שלום, אני רוצה לקבוע תור לתספורת",
        "בשמחה. לאיזה יום תרצה לקבוע?",
        "להתראות דני, יום נעים!",
    ] {
        assert!(
            stdout.lines().any(|l| l == hebrew),
            "{hebrew} missing from:\n{stdout}"
        );
    }
    assert!(stdout.contains("barge-in"), "{stdout}");
    // The booking was made for real, in the shop's booking system, through its tools.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("booked: חמישי at 16:30 for דני")),
        "{stdout}"
    );
    assert!(
        stdout.contains("קבעתי לך תור ליום חמישי"),
        "the agent says it booked only after booking: {stdout}"
    );
    assert!(
        records.join("sicha-demo.db").exists(),
        "--keep keeps the records"
    );
    let (rms, seconds) = wav_rms(&wav);
    assert!(seconds > 15.0, "the whole call is in the file: {seconds} s");
    assert!(rms > 300.0, "the file is not silent: rms {rms}");
}

#[tokio::test]
async fn sicha_call_plays_a_fixture_against_a_running_server() {
    let db = crate::common::databases::TestDatabase::sqlite().unwrap();
    let openai = OpenAiSim::start(SimProfile::instant()).await.unwrap();
    openai.set_espeak(false);
    openai.set_default_transcript("מה שעות הפתיחה שלכם?");
    let twilio = TwilioApiSim::start_with("ACtest0000000000000000000000000000", AUTH_TOKEN)
        .await
        .unwrap();
    let app = ai_app(db.url(), &openai, &twilio).await;
    let fixture = common::fixtures_dir().join("single/u01_hours.wav");
    let output = tokio::process::Command::from(common::sicha_binary())
        .args([
            "call",
            "--server",
            app.base.as_str(),
            "--to",
            BUSINESS_NUMBER,
            "--fast",
        ])
        .args(["--auth-token", AUTH_TOKEN, "--fixture"])
        .arg(&fixture)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "voice webhook answered 200",
        "the greeting",
        "echoed",
        "line 1  voice-to-voice",
        "`stop` sent",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("voice-to-voice —"),
        "the line was answered:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l == "שלום, מה שעות הפתיחה שלכם?"),
        "the caller's line, from the fixture's labels:\n{stdout}"
    );
    app.shutdown().await;
    db.remove().await;
}
