//! Byte-level decoding shared by the providers: WAV headers read from the front of a buffer that may
//! still be growing, 16-bit samples split across network chunks, μ-law, conversion to the line rate,
//! and loudness.

use std::sync::{Mutex, PoisonError};

use sicha_audio::mulaw;
use sicha_audio::resample::StreamResampler;

use super::{LINE_RATE_HZ, TtsError};

/// How the samples after a WAV header are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavEncoding {
    Pcm16,
    MuLaw,
}

/// What a WAV header says about the samples after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavHeader {
    pub encoding: WavEncoding,
    pub sample_rate: u32,
    /// Where the `data` chunk's samples start.
    pub data_offset: usize,
    /// The declared length of the `data` chunk, or `None` when the writer did not know it (a stream
    /// written to a pipe declares 0 or an all-ones placeholder).
    pub data_len: Option<usize>,
}

const FORMAT_PCM: u16 = 1;
const FORMAT_MULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// Placeholders written by encoders that stream to a pipe and cannot seek back to fill in sizes.
const UNKNOWN_LENGTHS: [u32; 3] = [0, u32::MAX, 0x7FFF_F000];

/// Walks the RIFF chunks at the start of `bytes` to the `data` chunk. `Ok(None)` means the header is
/// not complete yet: call again with more bytes. Header sizes vary by writer (extra `fmt ` bytes,
/// `fact` or `LIST` chunks), so nothing here assumes a fixed length.
pub fn parse_wav_header(bytes: &[u8]) -> Result<Option<WavHeader>, TtsError> {
    if bytes.len() < 12 {
        return match b"RIFF".starts_with(&bytes[..bytes.len().min(4)]) {
            true => Ok(None),
            false => Err(decode_error("not a RIFF/WAVE header")),
        };
    }
    if &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(decode_error("not a RIFF/WAVE header"));
    }
    let mut format: Option<(WavEncoding, u32)> = None;
    let mut offset = 12;
    while offset + 8 <= bytes.len() {
        let id = &bytes[offset..offset + 4];
        let declared = le_u32(&bytes[offset + 4..offset + 8]);
        let body_start = offset + 8;
        if id == b"data" {
            let (encoding, sample_rate) =
                format.ok_or_else(|| decode_error("data chunk before the fmt chunk"))?;
            let data_len = (!UNKNOWN_LENGTHS.contains(&declared)).then_some(declared as usize);
            return Ok(Some(WavHeader {
                encoding,
                sample_rate,
                data_offset: body_start,
                data_len,
            }));
        }
        let body_end = body_start + declared as usize;
        if body_end > bytes.len() {
            return Ok(None);
        }
        if id == b"fmt " {
            format = Some(parse_format(&bytes[body_start..body_end])?);
        }
        // Chunks are word-aligned: an odd-length body is followed by one pad byte.
        offset = body_end + (declared as usize & 1);
    }
    Ok(None)
}

fn parse_format(body: &[u8]) -> Result<(WavEncoding, u32), TtsError> {
    if body.len() < 16 {
        return Err(decode_error("fmt chunk shorter than 16 bytes"));
    }
    let tag = u16::from_le_bytes([body[0], body[1]]);
    let channels = u16::from_le_bytes([body[2], body[3]]);
    let sample_rate = le_u32(&body[4..8]);
    let bits = u16::from_le_bytes([body[14], body[15]]);
    if channels != 1 {
        return Err(TtsError::Decode(format!(
            "{channels} channels, expected mono"
        )));
    }
    if sample_rate == 0 {
        return Err(decode_error("zero sample rate"));
    }
    let encoding = match (tag, bits) {
        (FORMAT_PCM | FORMAT_EXTENSIBLE, 16) => WavEncoding::Pcm16,
        (FORMAT_MULAW, 8) => WavEncoding::MuLaw,
        _ => {
            return Err(TtsError::Decode(format!(
                "unsupported WAV encoding: format tag {tag}, {bits} bits"
            )));
        }
    };
    Ok((encoding, sample_rate))
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn decode_error(reason: &str) -> TtsError {
    TtsError::Decode(reason.to_string())
}

/// Turns little-endian 16-bit bytes into samples when network chunks may split a sample in two.
#[derive(Debug, Default)]
pub struct Pcm16Splitter {
    carried: Option<u8>,
}

impl Pcm16Splitter {
    /// Appends every whole sample in `carried byte + bytes` to `out`, keeping an odd last byte.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<i16>) {
        if let Some(low) = self.carried.take() {
            match bytes.split_first() {
                Some((&high, rest)) => {
                    out.push(i16::from_le_bytes([low, high]));
                    bytes = rest;
                }
                None => {
                    self.carried = Some(low);
                    return;
                }
            }
        }
        let mut pairs = bytes.chunks_exact(2);
        out.extend(
            pairs
                .by_ref()
                .map(|pair| i16::from_le_bytes([pair[0], pair[1]])),
        );
        self.carried = pairs.remainder().first().copied();
    }

    /// Whether a half sample is still waiting for its other byte (at the end: a truncated stream).
    pub fn has_partial_sample(&self) -> bool {
        self.carried.is_some()
    }
}

/// μ-law bytes to PCM.
pub fn decode_mulaw(codes: &[u8]) -> Vec<i16> {
    let mut samples = vec![0; codes.len()];
    mulaw::decode_into(codes, &mut samples);
    samples
}

/// Streaming conversion of one provider's rate to the 8 kHz line (a pass-through at 8 kHz).
///
/// Its resampler comes from [`IDLE_RESAMPLERS`] when one for the same rate is there, and goes back
/// there, reset, when the conversion is dropped: building one plans two FFTs and designs a filter
/// (about 40 µs at 24 kHz, as long as converting a third of a second of speech), and every sentence
/// of every answer needs one.
#[derive(Debug)]
pub struct ToLineRate {
    resampler: Option<StreamResampler>,
}

/// Resamplers to the line rate no sentence is using, any input rate. Bounded: past this many, a
/// returned resampler is freed instead.
static IDLE_RESAMPLERS: Mutex<Vec<StreamResampler>> = Mutex::new(Vec::new());
const MAX_IDLE_RESAMPLERS: usize = 256;

impl ToLineRate {
    pub fn new(from_hz: u32) -> Result<Self, TtsError> {
        if from_hz == LINE_RATE_HZ {
            return Ok(Self { resampler: None });
        }
        let reused = {
            let mut idle = IDLE_RESAMPLERS
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            idle.iter()
                .rposition(|resampler| resampler.from_hz() == from_hz)
                .map(|index| idle.swap_remove(index))
        };
        let resampler = match reused {
            Some(resampler) => resampler,
            None => StreamResampler::new(from_hz, LINE_RATE_HZ)
                .map_err(|error| TtsError::Decode(error.to_string()))?,
        };
        Ok(Self {
            resampler: Some(resampler),
        })
    }

    /// Converts the next piece of input; the output may lag by the resampler's block.
    pub fn process(&mut self, samples: &[i16]) -> Vec<i16> {
        match &mut self.resampler {
            None => samples.to_vec(),
            Some(resampler) => {
                let mut out = Vec::with_capacity(resampler.output_len_hint(samples.len()));
                resampler.process(samples, &mut out);
                out
            }
        }
    }

    /// The tail still held by the resampler, once the input has ended.
    pub fn finish(&mut self) -> Vec<i16> {
        let mut out = Vec::new();
        if let Some(resampler) = &mut self.resampler {
            resampler.flush(&mut out);
        }
        out
    }
}

impl Drop for ToLineRate {
    /// Finished or cancelled mid-sentence, the resampler is reset and kept for the next sentence.
    fn drop(&mut self) {
        let Some(mut resampler) = self.resampler.take() else {
            return;
        };
        resampler.reset();
        let mut idle = IDLE_RESAMPLERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_RESAMPLERS {
            idle.push(resampler);
        }
    }
}

/// Root mean square level of `samples` (0 for none).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (energy / samples.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fmt_body: &[u8], extra_chunks: &[(&[u8; 4], &[u8])], data_len: u32) -> Vec<u8> {
        let mut bytes = b"RIFF\0\0\0\0WAVE".to_vec();
        let mut chunk = |id: &[u8; 4], body: &[u8]| {
            bytes.extend_from_slice(id);
            bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
            bytes.extend_from_slice(body);
            if body.len() % 2 == 1 {
                bytes.push(0);
            }
        };
        chunk(b"fmt ", fmt_body);
        for (id, body) in extra_chunks {
            chunk(id, body);
        }
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&data_len.to_le_bytes());
        bytes
    }

    fn fmt(tag: u16, rate: u32, bits: u16, extension: bool) -> Vec<u8> {
        let block = bits / 8;
        let mut body = Vec::new();
        body.extend_from_slice(&tag.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&rate.to_le_bytes());
        body.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        body.extend_from_slice(&block.to_le_bytes());
        body.extend_from_slice(&bits.to_le_bytes());
        if extension {
            body.extend_from_slice(&0u16.to_le_bytes());
        }
        body
    }

    #[test]
    fn finds_the_data_chunk_after_fact_and_odd_list_chunks() {
        let bytes = header(
            &fmt(7, 8000, 8, true),
            &[(b"fact", &[4, 0, 0, 0]), (b"LIST", b"odd")],
            1234,
        );
        let parsed = parse_wav_header(&bytes).unwrap().unwrap();
        assert_eq!(parsed.encoding, WavEncoding::MuLaw);
        assert_eq!(parsed.sample_rate, 8000);
        assert_eq!(parsed.data_offset, bytes.len());
        assert_eq!(parsed.data_len, Some(1234));
        // Neither 44 nor 58 bytes: the fmt extension, fact, and a padded LIST chunk.
        assert_eq!(parsed.data_offset, 12 + 8 + 18 + 12 + 12 + 8);
    }

    #[test]
    fn a_partial_header_asks_for_more_bytes() {
        let bytes = header(&fmt(1, 22050, 16, false), &[], 0x7FFF_F000);
        for cut in 0..bytes.len() {
            assert_eq!(
                parse_wav_header(&bytes[..cut]).unwrap(),
                None,
                "cut at {cut}"
            );
        }
        let parsed = parse_wav_header(&bytes).unwrap().unwrap();
        assert_eq!(parsed.encoding, WavEncoding::Pcm16);
        assert_eq!(parsed.data_len, None, "a pipe placeholder is not a length");
    }

    #[test]
    fn rejects_what_is_not_mono_pcm16_or_mulaw() {
        assert!(parse_wav_header(b"ID3\x04 mp3 data here").is_err());
        let float = header(&fmt(3, 8000, 32, false), &[], 8);
        assert!(matches!(parse_wav_header(&float), Err(TtsError::Decode(_))));
    }

    #[test]
    fn samples_split_across_chunks_are_rejoined() {
        let samples: Vec<i16> = vec![1, -2, 300, -32768, 32767];
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        for split in [1usize, 3, 7] {
            let mut splitter = Pcm16Splitter::default();
            let mut out = Vec::new();
            for piece in bytes.chunks(split) {
                splitter.push(piece, &mut out);
            }
            assert_eq!(out, samples, "pieces of {split} bytes");
            assert!(!splitter.has_partial_sample());
        }
        let mut splitter = Pcm16Splitter::default();
        splitter.push(&[1, 2, 3], &mut Vec::new());
        splitter.push(&[], &mut Vec::new());
        assert!(splitter.has_partial_sample());
    }

    #[test]
    fn line_rate_conversion_keeps_duration() {
        let mut to_line = ToLineRate::new(24_000).unwrap();
        let second: Vec<i16> = (0..24_000).map(|i| ((i % 48) * 100) as i16).collect();
        let mut out = Vec::new();
        for piece in second.chunks(1000) {
            out.extend(to_line.process(piece));
        }
        out.extend(to_line.finish());
        assert!(
            (7_900..=8_100).contains(&out.len()),
            "{} samples",
            out.len()
        );
        assert_eq!(ToLineRate::new(8000).unwrap().process(&[1, 2]), vec![1, 2]);
    }

    #[test]
    fn a_reused_resampler_converts_as_a_new_one_does() {
        let speech: Vec<i16> = (0..4_800)
            .map(|i| ((i * 37 % 200) * 50 - 5000) as i16)
            .collect();
        let convert = |cut_short: bool| {
            let mut to_line = ToLineRate::new(24_000).unwrap();
            if cut_short {
                // A sentence cancelled mid-way leaves its resampler with staged input.
                to_line.process(&speech[..1_000]);
                return Vec::new();
            }
            let mut out = to_line.process(&speech);
            out.extend(to_line.finish());
            out
        };
        let fresh = convert(false);
        convert(true);
        for _ in 0..3 {
            assert_eq!(convert(false), fresh);
        }
    }

    #[test]
    fn rms_of_a_square_wave_is_its_amplitude() {
        assert_eq!(rms(&[]), 0.0);
        assert!((rms(&[1000, -1000, 1000, -1000]) - 1000.0).abs() < 1e-9);
        assert_eq!(decode_mulaw(&[0xFF, 0x7F]), vec![0, 0]);
    }
}
