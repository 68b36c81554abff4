//! Endpointer behaviour on synthetic signals with known boundaries.

use sicha_audio::endpoint::{EndpointConfig, EndpointEvent, Endpointer};

mod synthetic;

use synthetic::{hiss, ms, run, signal, utterances, voice};

#[test]
fn start_is_confirmed_after_start_ms_and_reports_where_speech_began() {
    let config = EndpointConfig::default();
    let events = run(config.clone(), &signal(1000, &[(800, 1500)]), 160);
    let (at, first) = &events[0];
    assert_eq!(
        *first,
        EndpointEvent::SpeechStarted {
            start_sample: ms(1000) as u64
        }
    );
    assert_eq!(*at, (ms(1000) + ms(u64::from(config.start_ms))) as u64);
}

#[test]
fn utterance_closes_after_hangover_with_speech_end_and_preroll() {
    let config = EndpointConfig::default();
    let input = signal(1000, &[(800, 1500)]);
    let events = run(config.clone(), &input, 160);
    let found = utterances(&events);
    assert_eq!(found.len(), 1);
    let (at, utterance) = found[0];
    let speech_end = ms(1800) as u64;
    assert!(!utterance.forced);
    assert_eq!(utterance.start_sample, ms(1000) as u64);
    // The classifier's smoothing may stretch the end by at most a frame or two.
    assert!(
        (speech_end..=speech_end + 320).contains(&utterance.end_sample),
        "{}",
        utterance.end_sample
    );
    assert_eq!(
        at,
        utterance.end_sample + ms(u64::from(config.hangover_ms)) as u64
    );
    // Pre-roll: the hiss just before the start, exactly as it came in.
    let preroll = ms(u64::from(config.preroll_ms));
    assert_eq!(utterance.pcm_start_sample, (ms(1000) - preroll) as u64);
    assert_eq!(
        &utterance.pcm[..preroll],
        &input[ms(1000) - preroll..ms(1000)]
    );
    assert_eq!(utterance.pcm.len() as u64, at - utterance.pcm_start_sample);
}

#[test]
fn pauses_shorter_than_hangover_stay_in_one_utterance() {
    let events = run(
        EndpointConfig::default(),
        &signal(600, &[(500, 400), (500, 1500)]),
        160,
    );
    assert_eq!(utterances(&events).len(), 1);
    let events = run(
        EndpointConfig::default(),
        &signal(600, &[(500, 900), (500, 1500)]),
        160,
    );
    assert_eq!(utterances(&events).len(), 2);
}

#[test]
fn short_bursts_are_discarded_or_ignored() {
    let config = EndpointConfig::default();
    // 200 ms: confirmed as speech (over 120 ms) but under the 250 ms minimum.
    let events = run(config.clone(), &signal(600, &[(200, 1500)]), 160);
    assert!(utterances(&events).is_empty());
    assert!(
        events
            .iter()
            .any(|(_, e)| matches!(e, EndpointEvent::Discarded { .. }))
    );
    // 60 ms: never confirmed, so nothing at all.
    let events = run(config, &signal(600, &[(60, 1500)]), 160);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn long_speech_is_cut_at_max_utterance() {
    let config = EndpointConfig {
        max_utterance_ms: 2000,
        ..EndpointConfig::default()
    };
    let events = run(config, &signal(600, &[(5000, 1500)]), 160);
    let found = utterances(&events);
    assert!(found.len() >= 2, "{}", found.len());
    let (at, first) = found[0];
    assert!(first.forced);
    assert_eq!(at - first.start_sample, ms(2000) as u64);
    assert!(!found.last().unwrap().1.forced);
}

#[test]
fn any_chunking_gives_identical_events() {
    let input = signal(700, &[(600, 300), (400, 1200), (150, 900), (900, 1500)]);
    let config = EndpointConfig {
        eager_ms: Some(200),
        ..EndpointConfig::default()
    };
    let reference: Vec<EndpointEvent> = run(config.clone(), &input, 160)
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert!(reference.len() >= 4);
    for chunk in [1, 7, 80, 159, 161, 333, 4096] {
        let events: Vec<EndpointEvent> = run(config.clone(), &input, chunk)
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        assert_eq!(events, reference, "chunk {chunk}");
    }
}

#[test]
fn eager_tentative_then_resumed_then_final() {
    let config = EndpointConfig {
        eager_ms: Some(200),
        ..EndpointConfig::default()
    };
    // 400 ms pause: past eager (200) but under the hangover (600).
    let events = run(config, &signal(600, &[(500, 400), (500, 1500)]), 160);
    let kinds: Vec<&str> = events
        .iter()
        .map(|(_, event)| match event {
            EndpointEvent::SpeechStarted { .. } => "started",
            EndpointEvent::Tentative(_) => "tentative",
            EndpointEvent::Resumed { .. } => "resumed",
            EndpointEvent::Utterance(_) => "utterance",
            EndpointEvent::Discarded { .. } => "discarded",
        })
        .collect();
    assert_eq!(
        kinds,
        ["started", "tentative", "resumed", "tentative", "utterance"]
    );
    let EndpointEvent::Tentative(last_guess) = &events[3].1 else {
        unreachable!()
    };
    let EndpointEvent::Utterance(final_utterance) = &events[4].1 else {
        unreachable!()
    };
    assert_eq!(last_guess.end_sample, final_utterance.end_sample);
    assert!(final_utterance.pcm.starts_with(&last_guess.pcm));
}

/// The open utterance is readable while it is open, and is at every moment the start of the
/// utterance that closes it: a recogniser fed it as it grows hears what a batch upload would.
#[test]
fn the_open_utterance_grows_into_the_closed_one() {
    let mut endpointer = Endpointer::new(EndpointConfig::default());
    let input = signal(600, &[(500, 400), (500, 1500)]);
    let mut seen: Vec<Vec<i16>> = Vec::new();
    let mut closed = None;
    for piece in input.chunks(160) {
        endpointer.push(piece, |event| {
            if let EndpointEvent::Utterance(utterance) = event {
                closed = Some(utterance);
            }
        });
        if let Some(open) = endpointer.open_audio() {
            seen.push(open.to_vec());
        }
    }
    let closed = closed.expect("one utterance");
    assert!(
        endpointer.open_audio().is_none(),
        "closed after the hangover"
    );
    // Open from the confirmed start (1.4 s of speech and pause, then the hangover), read every 20 ms.
    assert!(
        seen.len() > 80,
        "open for the whole utterance: {}",
        seen.len()
    );
    assert!(seen.windows(2).all(|pair| pair[1].starts_with(&pair[0])));
    assert!(seen.iter().all(|open| closed.pcm.starts_with(open)));
    // The frame that closed it is the only audio never seen open.
    let unseen = closed.pcm.len() - seen.last().unwrap().len();
    assert!((1..=480).contains(&unseen), "{unseen}");
}

#[test]
fn reset_starts_a_fresh_stream() {
    let mut endpointer = Endpointer::new(EndpointConfig::default());
    let mut count = 0;
    endpointer.push(&signal(600, &[(500, 100)]), |_| count += 1);
    assert_eq!(count, 1, "speech started");
    endpointer.reset();
    assert_eq!(endpointer.position(), 0);
    let mut events = Vec::new();
    endpointer.push(&hiss(ms(2000), 9), |event| events.push(event));
    assert!(events.is_empty(), "{events:?}");
}

/// Hiss with another talker 24 dB below `voice`, in 60 ms bursts: a line that swings.
fn background_talker(length: usize, seed: u32) -> Vec<i16> {
    talker_line(length, seed, 16)
}

/// Hiss with another talker, `voice` divided by `divisor`, in 60 ms bursts.
fn talker_line(length: usize, seed: u32, divisor: i16) -> Vec<i16> {
    let bed = hiss(length, seed);
    let talker = voice(length);
    bed.iter()
        .zip(&talker)
        .enumerate()
        .map(|(n, (h, v))| {
            let on = (n / ms(60)).is_multiple_of(2);
            h + if on { v / divisor } else { 0 }
        })
        .collect()
}

#[test]
fn background_talker_does_not_hold_the_turn_open() {
    let config = EndpointConfig::default();
    let mut input = background_talker(ms(1000), 3);
    let caller_end = ms(1000 + 800) as u64;
    input.extend(
        voice(ms(800))
            .iter()
            .zip(background_talker(ms(800), 5))
            .map(|(v, b)| v.saturating_add(b)),
    );
    input.extend(background_talker(ms(4000), 7));
    let events = run(config.clone(), &input, 160);
    let found = utterances(&events);
    assert_eq!(found.len(), 1, "{events:?}");
    let (at, utterance) = found[0];
    // The other talker may stretch the end by at most `weak_speech_ms` (and a frame).
    let weak = ms(u64::from(config.weak_speech_ms) + 20) as u64;
    assert!(
        utterance.end_sample >= caller_end && utterance.end_sample <= caller_end + weak,
        "{} vs {caller_end}",
        utterance.end_sample
    );
    // Then closed one hangover later, not kept open by the other talker.
    let latest = utterance.end_sample + ms(u64::from(config.hangover_ms) + 20) as u64;
    assert!(at <= latest, "closed at {at}, expected by {latest}");
}

#[test]
fn background_talker_between_turns_is_not_taken_for_the_caller() {
    // A long call: the background talker goes on for half a minute while the agent speaks,
    // then the caller talks again. The talker must not open a turn of its own in between, nor
    // hold the second turn open. It once did after nine seconds: the remembered caller peak
    // sank 1 dB/s of non-speech until the talker came within `hangover_arm_db` of it, and the
    // line's swing sank too, because only the quiet gaps between the talker's bursts reached
    // it, until the line passed for steady. Now the peak is held between the caller's turns
    // and the swing follows everything that is not the caller.
    let config = EndpointConfig::default();
    let with_caller = |length: usize, seed: u32| -> Vec<i16> {
        voice(length)
            .iter()
            .zip(background_talker(length, seed))
            .map(|(v, b)| v.saturating_add(b))
            .collect()
    };
    let mut input = background_talker(ms(1000), 3);
    input.extend(with_caller(ms(800), 5));
    input.extend(background_talker(ms(30_000), 7));
    let second_start = input.len() as u64;
    input.extend(with_caller(ms(800), 9));
    let second_end = input.len() as u64;
    input.extend(background_talker(ms(4000), 11));
    let events = run(config.clone(), &input, 160);
    let found = utterances(&events);
    assert_eq!(found.len(), 2, "{events:?}");
    let (at, second) = found[1];
    assert!(!second.forced);
    assert!(
        second.start_sample >= second_start,
        "second turn opened at {} before the caller spoke at {second_start}",
        second.start_sample
    );
    let weak = ms(u64::from(config.weak_speech_ms) + 20) as u64;
    assert!(
        second.end_sample <= second_end + weak,
        "{} vs {second_end}",
        second.end_sample
    );
    let latest = second.end_sample + ms(u64::from(config.hangover_ms) + 20) as u64;
    assert!(at <= latest, "closed at {at}, expected by {latest}");
}

/// A handset knock: full-scale noise of random sign, about 20 dB louder than `voice`.
fn bang(length: usize, seed: u32) -> Vec<i16> {
    let mut state = seed.max(1);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if state & 1 == 0 { i16::MAX } else { -i16::MAX }
        })
        .collect()
}

/// `length` samples of the line with a 2 ms full-scale click every `every_ms`.
fn click_train(line: &[i16], every_ms: u64) -> Vec<i16> {
    let mut out = line.to_vec();
    for click in out.chunks_mut(ms(every_ms)) {
        click[..ms(2)].fill(i16::MAX);
    }
    out
}

#[test]
fn a_knock_before_a_quieter_caller_does_not_lock_them_out() {
    // The phone is picked up: a knock or clicks, then the caller talks at an ordinary level
    // 25-30 dB below it, on a line with another talker 24 dB below the caller. The knock once
    // set the caller's remembered peak, which is held for the call, so the caller never came
    // near enough to it to count as confident and no turn was ever taken.
    let config = EndpointConfig::default();
    let line = |length: usize, seed: u32| talker_line(length, seed, 32);
    let knocks = [
        ("nothing", Vec::new()),
        ("20 ms bang", bang(ms(20), 41)),
        ("40 ms bang", bang(ms(40), 42)),
        ("60 ms bang", bang(ms(60), 43)),
        ("click train", click_train(&line(ms(500), 44), 100)),
    ];
    for (name, knock) in knocks {
        let mut input = line(ms(1000), 3);
        input.extend(knock);
        input.extend(line(ms(1500), 5));
        let caller_start = input.len() as u64;
        input.extend(
            voice(ms(800))
                .iter()
                .map(|v| v / 2)
                .zip(line(ms(800), 7))
                .map(|(v, b)| v.saturating_add(b)),
        );
        let caller_end = input.len() as u64;
        input.extend(line(ms(3000), 9));
        let events = run(config.clone(), &input, 160);
        let found = utterances(&events);
        let caller = found
            .iter()
            .find(|(_, u)| u.end_sample > caller_start)
            .unwrap_or_else(|| panic!("{name}: the caller was never heard: {events:?}"));
        let (at, utterance) = *caller;
        assert!(!utterance.forced, "{name}");
        let frame = 160;
        assert!(
            utterance.start_sample + frame >= caller_start
                && utterance.start_sample <= caller_start + 2 * frame,
            "{name}: started at {} vs {caller_start}",
            utterance.start_sample
        );
        let weak = ms(u64::from(config.weak_speech_ms) + 20) as u64;
        assert!(
            utterance.end_sample >= caller_end && utterance.end_sample <= caller_end + weak,
            "{name}: ended at {} vs {caller_end}",
            utterance.end_sample
        );
        let latest = utterance.end_sample + ms(u64::from(config.hangover_ms) + 20) as u64;
        assert!(at <= latest, "{name}: closed at {at}, expected by {latest}");
    }
}
