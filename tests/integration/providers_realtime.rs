//! The realtime transcription client against the stand-in's `/v1/realtime` socket: the session it
//! asks for, a turn's deltas and final text, turns matched by ticket, a taught line heard from its
//! streamed μ-law, failed and too-short turns, a socket that breaks, a refused session, the key
//! header and a deliberate close.

use std::time::Duration;

use sicha::config::Secret;
use sicha::providers::OpenAiConfig;
use sicha::providers::realtime_stt::{
    BrokenReason, RealtimeStream, RealtimeStt, RealtimeSttError, TranscriptionEvent,
    TranscriptionEvents, TranscriptionSender, TurnTicket,
};
use sicha_sim::openai::{OpenAiSim, SimEndpoint, SimProfile, SimTranscript};
use sicha_sim::scenario::Scenario;

/// A 20 ms Media Streams frame.
const FRAME_BYTES: usize = 160;

async fn sim() -> OpenAiSim {
    OpenAiSim::start(SimProfile::instant())
        .await
        .expect("stand-in starts")
}

fn client(sim: &OpenAiSim) -> RealtimeStt {
    let config = OpenAiConfig::new(sim.base_url(), None).with_timeout(Duration::from_secs(5));
    RealtimeStt::new(config, "gpt-4o-transcribe")
}

async fn connect(sim: &OpenAiSim) -> (TranscriptionSender, TranscriptionEvents) {
    let RealtimeStream { sender, events } = client(sim).connect(None).await.expect("connects");
    (sender, events)
}

/// `seconds` of a 440 Hz tone as 8 kHz μ-law.
fn tone(seconds: f32) -> Vec<u8> {
    let samples: Vec<i16> = (0..(8000.0 * seconds) as usize)
        .map(|n| ((n as f32 * 0.345).sin() * 8000.0) as i16)
        .collect();
    let mut codes = vec![0u8; samples.len()];
    sicha_audio::mulaw::encode_into(&samples, &mut codes);
    codes
}

/// Appends `mulaw` frame by frame, as Twilio delivers it, then ends the turn.
fn say(sender: &mut TranscriptionSender, mulaw: &[u8]) -> TurnTicket {
    for frame in mulaw.chunks(FRAME_BYTES) {
        sender.append(frame).expect("the stream takes audio");
    }
    sender.commit().expect("the stream takes the commit")
}

/// Events until `count` turns have ended (final or failed), or the stream ends.
async fn until_turns_end(
    events: &mut TranscriptionEvents,
    count: usize,
) -> Vec<TranscriptionEvent> {
    let mut seen = Vec::new();
    let mut ended = 0;
    while ended < count {
        let Some(event) = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("the stand-in answers")
        else {
            break;
        };
        if matches!(
            event,
            TranscriptionEvent::Final { .. }
                | TranscriptionEvent::Failed { .. }
                | TranscriptionEvent::Broken(_)
        ) {
            ended += 1;
        }
        seen.push(event);
    }
    seen
}

fn final_text(events: &[TranscriptionEvent], wanted: TurnTicket) -> Option<&str> {
    events.iter().find_map(|event| match event {
        TranscriptionEvent::Final { ticket, text, .. } if *ticket == wanted => Some(text.as_str()),
        _ => None,
    })
}

#[tokio::test]
async fn a_turn_comes_back_as_deltas_then_its_final_text() {
    let sim = sim().await;
    sim.push_transcripts(["שלום, אני רוצה לקבוע תור למחר בבוקר"]);
    let RealtimeStream {
        mut sender,
        mut events,
    } = client(&sim).connect(Some("מספרת רונית")).await.unwrap();

    let ticket = say(&mut sender, &tone(1.0));
    let seen = until_turns_end(&mut events, 1).await;

    let TranscriptionEvent::Committed {
        ticket: first,
        item_id,
    } = &seen[0]
    else {
        panic!("the commit is acknowledged first: {seen:?}");
    };
    assert_eq!(*first, ticket);
    let partials: Vec<&str> = seen
        .iter()
        .filter_map(|event| match event {
            TranscriptionEvent::Partial {
                text_so_far,
                item_id: of,
                ..
            } if of == item_id => Some(text_so_far.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        partials,
        [
            "שלום, אני רוצה ",
            "שלום, אני רוצה לקבוע תור למחר ",
            "שלום, אני רוצה לקבוע תור למחר בבוקר"
        ]
    );
    assert_eq!(
        final_text(&seen, ticket),
        Some("שלום, אני רוצה לקבוע תור למחר בבוקר")
    );

    let session = sim
        .requests()
        .into_iter()
        .find(|r| r.endpoint == SimEndpoint::RealtimeSession)
        .expect("the session was set up");
    assert_eq!(session.status, 200);
    assert_eq!(session.model.as_deref(), Some("gpt-4o-transcribe"));
    assert_eq!(session.field("language"), Some("he"));
    assert_eq!(session.field("prompt"), Some("מספרת רונית"));
    let json = session.json.unwrap();
    assert_eq!(json["audio"]["input"]["format"]["type"], "audio/pcmu");
    assert_eq!(sim.count(SimEndpoint::Realtime), 1);
    assert_eq!(sim.count(SimEndpoint::RealtimeCommit), 1);
}

#[tokio::test]
async fn two_turns_in_a_row_keep_their_own_texts() {
    let sim = sim().await;
    sim.push_transcripts(["מה שעות הפתיחה?", "ואיפה אתם נמצאים?"]);
    let (mut sender, mut events) = connect(&sim).await;

    let first = say(&mut sender, &tone(0.6));
    let second = say(&mut sender, &tone(0.8));
    let seen = until_turns_end(&mut events, 2).await;

    assert_ne!(first, second);
    assert_eq!(final_text(&seen, first), Some("מה שעות הפתיחה?"));
    assert_eq!(final_text(&seen, second), Some("ואיפה אתם נמצאים?"));
    let items: Vec<(&TurnTicket, &String)> = seen
        .iter()
        .filter_map(|event| match event {
            TranscriptionEvent::Committed { ticket, item_id } => Some((ticket, item_id)),
            _ => None,
        })
        .collect();
    assert_eq!(items.len(), 2);
    assert_ne!(items[0].1, items[1].1, "each turn is an item of its own");
    for event in &seen {
        if let TranscriptionEvent::Final {
            ticket, item_id, ..
        } = event
        {
            let committed = items.iter().find(|(t, _)| *t == ticket).unwrap();
            assert_eq!(committed.1, item_id, "a final names its turn's item");
        }
    }
    assert_eq!(sim.count(SimEndpoint::RealtimeCommit), 2);
}

/// With nothing queued, the stand-in hears the streamed μ-law as the taught line it is, as the
/// batch endpoint hears an upload.
#[tokio::test]
async fn a_taught_line_is_heard_from_its_streamed_audio() {
    let sim = sim().await;
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/scripts/call2_hours_address.wav"
    );
    let scenario = Scenario::from_fixture(std::path::Path::new(fixture)).unwrap();
    scenario.teach(&sim);
    let (mut sender, mut events) = connect(&sim).await;

    let last = scenario.lines.len() - 1;
    let ticket = say(&mut sender, &scenario.lines[last].codes);
    let seen = until_turns_end(&mut events, 1).await;

    assert_eq!(
        final_text(&seen, ticket),
        Some(scenario.lines[last].text.as_str())
    );
}

#[tokio::test]
async fn failed_and_too_short_turns_fail_alone_and_the_stream_goes_on() {
    let sim = sim().await;
    sim.push_transcripts([SimTranscript::Fail(500), SimTranscript::from("כן")]);
    let (mut sender, mut events) = connect(&sim).await;

    let failing = say(&mut sender, &tone(0.5));
    let too_short = say(&mut sender, &tone(0.04));
    let heard = say(&mut sender, &tone(0.5));
    let seen = until_turns_end(&mut events, 3).await;

    let failure = seen.iter().find_map(|event| match event {
        TranscriptionEvent::Failed {
            ticket,
            item_id,
            reason,
        } if *ticket == failing => Some((item_id, reason)),
        _ => None,
    });
    let (item_id, reason) = failure.expect("the scripted failure fails its turn");
    assert!(item_id.is_some(), "the turn was committed before it failed");
    assert!(
        reason.contains("Scripted transcription failure"),
        "{reason}"
    );
    assert!(
        seen.iter().any(|event| matches!(
            event,
            TranscriptionEvent::Failed { ticket, item_id: None, .. } if *ticket == too_short
        )),
        "40 ms is too little to commit: {seen:?}"
    );
    assert_eq!(final_text(&seen, heard), Some("כן"));
    assert_eq!(
        sim.count(SimEndpoint::RealtimeCommit),
        2,
        "the short turn never reached the server"
    );
}

#[tokio::test]
async fn a_socket_that_breaks_after_a_commit_ends_the_stream_with_broken() {
    let sim = sim().await;
    sim.break_realtime_next(1);
    let (mut sender, mut events) = connect(&sim).await;

    let ticket = say(&mut sender, &tone(0.5));
    let seen = until_turns_end(&mut events, 1).await;

    assert!(
        matches!(seen.first(), Some(TranscriptionEvent::Committed { ticket: t, .. }) if *t == ticket),
        "{seen:?}"
    );
    assert!(
        matches!(
            seen.last(),
            Some(TranscriptionEvent::Broken(
                BrokenReason::Closed { .. } | BrokenReason::Transport(_)
            ))
        ),
        "{seen:?}"
    );
    assert_eq!(events.next().await, None, "nothing follows Broken");
    assert!(sender.is_gone());
    assert!(sender.append(&tone(0.02)).is_err());
    let commit = sim
        .requests()
        .into_iter()
        .find(|r| r.endpoint == SimEndpoint::RealtimeCommit)
        .unwrap();
    assert_eq!(commit.status, 503);
}

#[tokio::test]
async fn a_refused_session_or_upgrade_is_an_error_with_the_servers_words() {
    let sim = sim().await;
    let no_language = client(&sim).with_language("");
    let refused = no_language.connect(None).await.err().expect("refused");
    assert!(
        matches!(&refused, RealtimeSttError::Refused(error) if error.message.contains("language")),
        "{refused:?}"
    );

    sim.fail_next(SimEndpoint::Realtime, 1, 503);
    let unavailable = client(&sim).connect(None).await.err().expect("refused");
    assert!(
        matches!(&unavailable, RealtimeSttError::Http { status: 503, message } if message == "Injected failure."),
        "{unavailable:?}"
    );
    let statuses: Vec<(SimEndpoint, u16)> = sim
        .requests()
        .iter()
        .map(|r| (r.endpoint, r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (SimEndpoint::Realtime, 101),
            (SimEndpoint::RealtimeSession, 400),
            (SimEndpoint::Realtime, 503)
        ]
    );
}

#[tokio::test]
async fn the_key_goes_in_the_upgrade_and_a_missing_one_is_refused() {
    let sim = sim().await;
    sim.require_api_key("sk-sim-test");
    let with_key = OpenAiConfig::new(sim.base_url(), Some(Secret::new("sk-sim-test")));

    RealtimeStt::new(with_key, "gpt-4o-transcribe")
        .connect(None)
        .await
        .expect("the key opens the socket");
    let refused = client(&sim).connect(None).await.err().expect("no key");

    assert!(
        matches!(refused, RealtimeSttError::Http { status: 401, .. }),
        "{refused:?}"
    );
    let seen: Vec<Option<String>> = sim
        .requests()
        .iter()
        .filter(|r| r.endpoint == SimEndpoint::Realtime)
        .map(|r| r.authorization.as_ref().map(|a| a.expose().to_string()))
        .collect();
    assert_eq!(seen, [Some("Bearer sk-sim-test".to_string()), None]);
}

#[tokio::test]
async fn dropping_the_sender_closes_the_stream_without_broken() {
    let sim = sim().await;
    let (sender, mut events) = connect(&sim).await;
    sender.append(&tone(0.2)).unwrap();
    sender.clear().unwrap();
    drop(sender);

    let end = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the stream ends");
    assert_eq!(end, None);
}

#[tokio::test]
async fn a_prompt_update_sets_the_session_up_again_for_later_turns() {
    let sim = sim().await;
    let (mut sender, mut events) = connect(&sim).await;

    sender.update_prompt("תור אצל רונית").unwrap();
    let ticket = say(&mut sender, &tone(0.5));
    let seen = until_turns_end(&mut events, 1).await;

    assert!(final_text(&seen, ticket).is_some(), "{seen:?}");
    let prompts: Vec<Option<String>> = sim
        .requests()
        .iter()
        .filter(|r| r.endpoint == SimEndpoint::RealtimeSession)
        .map(|r| r.field("prompt").map(str::to_string))
        .collect();
    assert_eq!(prompts, [None, Some("תור אצל רונית".to_string())]);
    assert!(
        !seen
            .iter()
            .any(|event| matches!(event, TranscriptionEvent::ServerError(_))),
        "the update was accepted: {seen:?}"
    );
}
