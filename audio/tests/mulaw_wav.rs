//! μ-law WAV files as sox writes them (`sox -n -r 8000 -e u-law -c 1 x.wav synth 0.1 sine 440`),
//! checked in under `tests/data/` together with sox's own 16-bit decode of the same file.

use sicha_audio::{mulaw, wav};

const SOX_MULAW: &[u8] = include_bytes!("data/sox_sine440_mulaw.wav");
const SOX_DECODED_S16LE: &[u8] = include_bytes!("data/sox_sine440_mulaw_decoded_s16le.raw");
/// `sox -n -r 16000 -e signed -b 16 -c 2 x.wav synth 0.05 sine 440 sine 1000`
const SOX_STEREO_PCM16: &[u8] = include_bytes!("data/sox_stereo_pcm16.wav");

#[test]
fn reads_sox_mulaw_wav_exactly_as_sox_decodes_it() {
    let audio = wav::read_wav(SOX_MULAW).expect("sox μ-law WAV");
    let expected: Vec<i16> = SOX_DECODED_S16LE
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    assert_eq!(audio.sample_rate, 8000);
    assert_eq!(audio.samples.len(), 800);
    assert_eq!(audio.samples, expected);
}

#[test]
fn writer_reproduces_sox_layout_byte_for_byte() {
    // Header and chunk order are identical, so re-wrapping sox's codes yields sox's file.
    let audio = wav::read_wav(SOX_MULAW).unwrap();
    let codes: Vec<u8> = audio.samples.iter().map(|&s| mulaw::encode(s)).collect();
    assert_eq!(wav::mulaw_wav_bytes(&codes), SOX_MULAW);
}

#[test]
fn reads_sox_stereo_pcm16_as_channel_average() {
    let audio = wav::read_wav(SOX_STEREO_PCM16).expect("sox stereo WAV");
    assert_eq!(audio.sample_rate, 16000);
    assert_eq!(audio.samples.len(), 800);
    let data = &SOX_STEREO_PCM16[44..];
    for (index, frame) in data.chunks_exact(4).enumerate() {
        let left = i32::from(i16::from_le_bytes([frame[0], frame[1]]));
        let right = i32::from(i16::from_le_bytes([frame[2], frame[3]]));
        let mean = i32::from(audio.samples[index]);
        assert!((2 * mean - (left + right)).abs() <= 1, "frame {index}");
    }
}
