//! The line-check agent (`sicha serve --agent echo`): after each caller utterance it plays the caller's
//! own words back. It needs no AI provider, so a new Twilio number can be checked end to end — audio in,
//! endpointing, audio out, marks, barge-in — before any key is configured.

use sicha_audio::endpoint::Utterance;
use sicha_audio::mulaw;

/// The utterance's speech (without its pre-roll and trailing silence) as μ-law, ready to send.
pub fn reply_audio(utterance: &Utterance) -> Vec<u8> {
    let from = (utterance
        .start_sample
        .saturating_sub(utterance.pcm_start_sample)) as usize;
    let to = (utterance
        .end_sample
        .saturating_sub(utterance.pcm_start_sample) as usize)
        .min(utterance.pcm.len());
    let speech = &utterance.pcm[from.min(to)..to];
    let mut codes = vec![mulaw::SILENCE; speech.len()];
    mulaw::encode_into(speech, &mut codes);
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_back_only_the_speech_part() {
        let mut pcm = vec![0i16; 100];
        pcm.extend(std::iter::repeat_n(1000i16, 50));
        pcm.extend(vec![0i16; 30]);
        let utterance = Utterance {
            pcm,
            pcm_start_sample: 900,
            start_sample: 1000,
            end_sample: 1050,
            forced: false,
            evidence: Default::default(),
        };
        let audio = reply_audio(&utterance);
        assert_eq!(audio.len(), 50);
        assert!(audio.iter().all(|&c| c == mulaw::encode(1000)));
    }
}
