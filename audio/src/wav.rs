//! WAV in and out: utterances to WAV bytes for speech-to-text uploads, and fixtures or provider
//! audio (16-bit PCM or G.711 μ-law WAV) back to mono PCM.
//!
//! None of this is on the per-frame path. Writers return one `Vec` sized exactly up front;
//! [`read_wav`] reads the whole input into memory once, then decodes into one output `Vec`.
//! 16-bit PCM goes through `hound`; μ-law (format tag 7), which `hound` does not read, is parsed
//! here from the RIFF chunks, minimally and strictly.

use std::io::{Cursor, Read};

use crate::mulaw;

/// Decoded audio: mono 16-bit samples at the file's own rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
}

/// Why a WAV could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("reading WAV input: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a RIFF/WAVE file")]
    NotWave,
    #[error("malformed WAV: {0}")]
    Malformed(&'static str),
    #[error("unsupported WAV encoding: format tag {format_tag}, {bits_per_sample} bits per sample")]
    Unsupported {
        format_tag: u16,
        bits_per_sample: u16,
    },
    #[error("decoding PCM WAV: {0}")]
    Pcm(#[from] hound::Error),
}

const FORMAT_PCM: u16 = 1;
const FORMAT_MULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Mono 16-bit little-endian PCM WAV (format tag 1), the shape speech-to-text APIs accept.
pub fn pcm16_to_wav_bytes(samples: &[i16], sample_rate: u32) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).expect("WAV data exceeds 4 GiB");
    let mut bytes = Vec::with_capacity(44 + samples.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVE");
    put_fmt(&mut bytes, FORMAT_PCM, sample_rate, 16, false);
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    bytes
}

/// 8 kHz mono μ-law WAV laid out as sox writes it with `-e u-law`: an 18-byte `fmt ` chunk,
/// a `fact` chunk with the sample count, then `data` (padded to an even length).
pub fn mulaw_wav_bytes(codes: &[u8]) -> Vec<u8> {
    let data_len = u32::try_from(codes.len()).expect("WAV data exceeds 4 GiB");
    let pad = codes.len() % 2;
    // RIFF payload: "WAVE" + fmt (8 + 18) + fact (8 + 4) + data header (8) + data + pad.
    let riff_len = 4 + 26 + 12 + 8 + data_len + pad as u32;
    let mut bytes = Vec::with_capacity(8 + riff_len as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&riff_len.to_le_bytes());
    bytes.extend_from_slice(b"WAVE");
    put_fmt(&mut bytes, FORMAT_MULAW, 8000, 8, true);
    bytes.extend_from_slice(b"fact");
    bytes.extend_from_slice(&4u32.to_le_bytes());
    bytes.extend_from_slice(&data_len.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    bytes.extend_from_slice(codes);
    if pad == 1 {
        bytes.push(0);
    }
    bytes
}

/// Mono `fmt ` chunk; `with_extension_size` adds the zero cbSize field non-PCM formats carry.
fn put_fmt(
    bytes: &mut Vec<u8>,
    format_tag: u16,
    sample_rate: u32,
    bits: u16,
    with_extension_size: bool,
) {
    let block_align = bits / 8;
    let chunk_len: u32 = if with_extension_size { 18 } else { 16 };
    bytes.extend_from_slice(b"fmt ");
    bytes.extend_from_slice(&chunk_len.to_le_bytes());
    bytes.extend_from_slice(&format_tag.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&sample_rate.to_le_bytes());
    bytes.extend_from_slice(&(sample_rate * u32::from(block_align)).to_le_bytes());
    bytes.extend_from_slice(&block_align.to_le_bytes());
    bytes.extend_from_slice(&bits.to_le_bytes());
    if with_extension_size {
        bytes.extend_from_slice(&0u16.to_le_bytes());
    }
}

/// Reads a 16-bit PCM or μ-law WAV into mono PCM; multi-channel audio is averaged per frame.
pub fn read_wav<R: Read>(mut reader: R) -> Result<WavAudio, WavError> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    let layout = parse_layout(&bytes)?;
    match layout.format.format_tag {
        FORMAT_MULAW => decode_mulaw(&layout, &bytes),
        FORMAT_PCM | FORMAT_EXTENSIBLE => decode_pcm16(&layout, &bytes),
        format_tag => Err(WavError::Unsupported {
            format_tag,
            bits_per_sample: layout.format.bits_per_sample,
        }),
    }
}

#[derive(Debug, Clone, Copy)]
struct Format {
    format_tag: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits_per_sample: u16,
}

#[derive(Debug)]
struct Layout {
    format: Format,
    /// Byte range of the `data` chunk's payload within the file.
    data: std::ops::Range<usize>,
}

/// Walks the RIFF chunks to the `fmt ` and `data` chunks; anything else is skipped.
fn parse_layout(bytes: &[u8]) -> Result<Layout, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut format = None;
    let mut offset = 12;
    while offset + 8 <= bytes.len() {
        let id = &bytes[offset..offset + 4];
        let len = le_u32(&bytes[offset + 4..offset + 8]) as usize;
        let body_start = offset + 8;
        let body_end = body_start
            .checked_add(len)
            .filter(|&end| end <= bytes.len())
            .ok_or(WavError::Malformed("chunk runs past the end of the file"))?;
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " => format = Some(parse_format(body)?),
            b"data" => {
                let format = format.ok_or(WavError::Malformed("data chunk before fmt chunk"))?;
                return Ok(Layout {
                    format,
                    data: body_start..body_end,
                });
            }
            _ => {}
        }
        // Chunks are word-aligned: an odd-length body is followed by one pad byte.
        offset = body_end + (len & 1);
    }
    Err(WavError::Malformed("no data chunk"))
}

fn parse_format(body: &[u8]) -> Result<Format, WavError> {
    if body.len() < 16 {
        return Err(WavError::Malformed("fmt chunk shorter than 16 bytes"));
    }
    let format = Format {
        format_tag: le_u16(&body[0..2]),
        channels: le_u16(&body[2..4]),
        sample_rate: le_u32(&body[4..8]),
        block_align: le_u16(&body[12..14]),
        bits_per_sample: le_u16(&body[14..16]),
    };
    if format.channels == 0 || format.sample_rate == 0 {
        return Err(WavError::Malformed("zero channels or zero sample rate"));
    }
    Ok(format)
}

fn decode_mulaw(layout: &Layout, bytes: &[u8]) -> Result<WavAudio, WavError> {
    let format = layout.format;
    if format.bits_per_sample != 8 {
        return Err(WavError::Unsupported {
            format_tag: format.format_tag,
            bits_per_sample: format.bits_per_sample,
        });
    }
    if format.block_align != format.channels {
        return Err(WavError::Malformed(
            "μ-law block align must equal the channel count",
        ));
    }
    let codes = &bytes[layout.data.clone()];
    let channels = usize::from(format.channels);
    if !codes.len().is_multiple_of(channels) {
        return Err(WavError::Malformed(
            "data length is not a whole number of frames",
        ));
    }
    let samples = codes
        .chunks_exact(channels)
        .map(|frame| average(frame.iter().map(|&code| mulaw::decode(code))))
        .collect();
    Ok(WavAudio {
        sample_rate: format.sample_rate,
        samples,
    })
}

/// hound reads and checks the header; the samples are then converted straight from the `data`
/// chunk's bytes, several times faster than hound's per-sample reader (an upload a turn, for every
/// call, in the transcription stand-in).
fn decode_pcm16(layout: &Layout, bytes: &[u8]) -> Result<WavAudio, WavError> {
    let spec = hound::WavReader::new(Cursor::new(bytes))?.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(WavError::Unsupported {
            format_tag: if spec.sample_format == hound::SampleFormat::Float {
                3
            } else {
                FORMAT_PCM
            },
            bits_per_sample: spec.bits_per_sample,
        });
    }
    let channels = usize::from(spec.channels);
    let data = &bytes[layout.data.clone()];
    if !data.len().is_multiple_of(2 * channels) {
        return Err(WavError::Malformed(
            "data length is not a whole number of frames",
        ));
    }
    let interleaved = data
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]));
    let samples = if channels == 1 {
        interleaved.collect()
    } else {
        let interleaved: Vec<i16> = interleaved.collect();
        interleaved
            .chunks_exact(channels)
            .map(|frame| average(frame.iter().copied()))
            .collect()
    };
    Ok(WavAudio {
        sample_rate: spec.sample_rate,
        samples,
    })
}

/// Mean of one frame's channels, rounded to nearest (ties away from zero).
fn average(channel_samples: impl Iterator<Item = i16>) -> i16 {
    let (sum, count) = channel_samples.fold((0i32, 0i32), |(sum, count), s| {
        (sum + i32::from(s), count + 1)
    });
    let half = if sum >= 0 { count / 2 } else { -(count / 2) };
    ((sum + half) / count) as i16
}

fn le_u16(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[0], bytes[1]])
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_pcm16_written_by_hound_is_averaged() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut bytes = Vec::new();
        let mut writer = hound::WavWriter::new(Cursor::new(&mut bytes), spec).unwrap();
        for (left, right) in [(100i16, 300i16), (-32768, -32768), (1, 2)] {
            writer.write_sample(left).unwrap();
            writer.write_sample(right).unwrap();
        }
        writer.finalize().unwrap();
        let audio = read_wav(bytes.as_slice()).unwrap();
        assert_eq!(audio.samples, vec![200, -32768, 2]);
        assert!(read_wav(&bytes[..bytes.len() - 2]).is_err(), "half a frame");
    }

    #[test]
    fn pcm16_round_trips_through_hound() {
        let samples: Vec<i16> = (0..321).map(|i| (i * 97 - 15000) as i16).collect();
        let bytes = pcm16_to_wav_bytes(&samples, 16000);
        assert_eq!(bytes.len(), 44 + samples.len() * 2);
        let audio = read_wav(bytes.as_slice()).unwrap();
        assert_eq!(
            audio,
            WavAudio {
                sample_rate: 16000,
                samples
            }
        );
    }

    #[test]
    fn mulaw_round_trips_with_odd_length_padding() {
        let codes: Vec<u8> = (0..=254).collect();
        let bytes = mulaw_wav_bytes(&codes);
        assert_eq!(bytes.len() % 2, 0);
        let riff_len = le_u32(&bytes[4..8]) as usize;
        assert_eq!(riff_len + 8, bytes.len());
        let audio = read_wav(bytes.as_slice()).unwrap();
        assert_eq!(audio.sample_rate, 8000);
        let expected: Vec<i16> = codes.iter().map(|&c| mulaw::decode(c)).collect();
        assert_eq!(audio.samples, expected);
    }

    #[test]
    fn stereo_mulaw_is_averaged() {
        let mut bytes = mulaw_wav_bytes(&[0x80, 0x00, 0xFF, 0x80]);
        // Turn the mono header into a 2-channel one: channels = 2, block align = 2.
        bytes[22] = 2;
        bytes[32] = 2;
        let audio = read_wav(bytes.as_slice()).unwrap();
        assert_eq!(audio.samples, vec![0, 16062]);
    }

    #[test]
    fn rejects_non_riff_input() {
        assert!(matches!(
            read_wav(&b"OggS\0\0\0\0\0\0\0\0\0\0"[..]),
            Err(WavError::NotWave)
        ));
    }

    #[test]
    fn rejects_truncated_data_chunk() {
        let bytes = mulaw_wav_bytes(&[1, 2, 3, 4, 5, 6]);
        let truncated = &bytes[..bytes.len() - 2];
        assert!(matches!(read_wav(truncated), Err(WavError::Malformed(_))));
    }

    #[test]
    fn rejects_unknown_format_tag() {
        let mut bytes = mulaw_wav_bytes(&[1, 2]);
        bytes[20] = 6; // A-law
        assert!(matches!(
            read_wav(bytes.as_slice()),
            Err(WavError::Unsupported { format_tag: 6, .. })
        ));
    }

    #[test]
    fn averaging_rounds_to_nearest() {
        assert_eq!(average([1, 2].into_iter()), 2);
        assert_eq!(average([-1, -2].into_iter()), -2);
        assert_eq!(average([i16::MAX, i16::MAX].into_iter()), i16::MAX);
        assert_eq!(average([i16::MIN, i16::MIN].into_iter()), i16::MIN);
    }
}
