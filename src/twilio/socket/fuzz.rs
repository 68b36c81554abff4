//! Property tests over the inbound side: the Media Streams parser and the socket loop take any
//! sequence of valid, mutated and hostile frames without panicking, and the loop always ends with
//! exactly one end told to an attached call side.
//!
//! A short run is part of the suite; `SICHA_FUZZ_CASES=N` runs N cases of each property (the long
//! run: `SICHA_FUZZ_CASES=200000 cargo test -p sicha --lib fuzz -- --nocapture`).

use proptest::prelude::*;
use tokio::sync::mpsc;

use super::tests::{Duplex, Ear, LIMITS, media, start_message};
use super::*;
use crate::twilio::outbound::outbound_channel;
use crate::twilio::stream::Inbound;

/// Cases per property. The suite's short run draws from a fixed seed, so it is the same on every
/// machine and a CI failure is a real regression; the long run (`SICHA_FUZZ_CASES`) draws afresh
/// each time, to find what the fixed cases do not.
pub(crate) fn cases(default: u32) -> ProptestConfig {
    let long_run = std::env::var("SICHA_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    ProptestConfig {
        cases: long_run.unwrap_or(default),
        rng_seed: match long_run {
            Some(_) => proptest::test_runner::RngSeed::Random,
            None => proptest::test_runner::RngSeed::Fixed(0x51c4a),
        },
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Messages Twilio sends, valid, to mutate and mix.
fn valid_messages() -> Vec<String> {
    let text = |frame: WireFrame| match frame {
        WireFrame::Text(text) => text,
        other => unreachable!("{other:?}"),
    };
    vec![
        r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#.into(),
        start_message(),
        text(media()),
        r#"{"event":"mark","sequenceNumber":"3","streamSid":"MZ1","mark":{"name":"p1"}}"#.into(),
        r#"{"event":"dtmf","sequenceNumber":"4","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"5"}}"#.into(),
        r#"{"event":"stop","sequenceNumber":"6","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#.into(),
    ]
}

/// One frame: a valid message, one with bytes flipped, cut or spliced, random text, or another
/// kind of frame.
fn frame() -> impl Strategy<Value = WireFrame> {
    let valid = valid_messages();
    let pick = 0..valid.len();
    let valid_frame = pick.clone().prop_map({
        let valid = valid.clone();
        move |i| WireFrame::Text(valid[i].clone())
    });
    let mutated = (
        pick.clone(),
        proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    )
        .prop_map({
            let valid = valid.clone();
            move |(i, flips)| {
                let mut bytes = valid[i].clone().into_bytes();
                for (at, byte) in flips {
                    let at = at % bytes.len();
                    bytes[at] = byte;
                }
                WireFrame::Text(String::from_utf8_lossy(&bytes).into_owned())
            }
        });
    let cut = (pick, any::<usize>()).prop_map(move |(i, at)| {
        let text = &valid[i];
        let at = at % text.len();
        WireFrame::Text(text.get(..at).unwrap_or_default().to_string())
    });
    prop_oneof![
        4 => valid_frame,
        3 => mutated,
        1 => cut,
        1 => ".{0,200}".prop_map(WireFrame::Text),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(WireFrame::Binary),
        1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(WireFrame::Ping),
        1 => Just(WireFrame::Text(format!("{{\"event\":\"media\",\"x\":\"{}\"}}", "a".repeat(5000)))),
        1 => Just(WireFrame::Close(None)),
    ]
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn the_parser_takes_any_text(frame in frame()) {
        if let WireFrame::Text(text) = frame {
            let _ = serde_json::from_str::<Inbound>(&text);
        }
    }

    #[test]
    fn the_socket_loop_takes_any_sequence_and_tells_one_end(frames in proptest::collection::vec(frame(), 0..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        let (ends, report) = runtime.block_on(async move {
            let (to_server, inbound) = futures::channel::mpsc::unbounded();
            let (outbound, _from_server) = futures::channel::mpsc::unbounded();
            let (heard, mut told) = mpsc::unbounded_channel();
            let (_voice, from_call) = outbound_channel(8);
            let sent = frames.len();
            for frame in frames {
                to_server.unbounded_send(Ok(frame)).unwrap();
            }
            drop(to_server);
            let report = serve_stream(Duplex { inbound, outbound }, LIMITS, move |_start| async move {
                Ok(Attached { handler: Ear { heard }, outbound: from_call })
            })
            .await;
            let mut ends = 0;
            let mut events = 0;
            while let Ok(line) = told.try_recv() {
                if line.starts_with("end ") { ends += 1 } else { events += 1 }
            }
            assert!(events <= sent);
            (ends, report)
        });
        prop_assert!(report.end.is_some());
        prop_assert_eq!(ends, usize::from(report.stream_sid.is_some() && !matches!(report.end, Some(StreamEnd::Rejected(_)))));
    }
}
