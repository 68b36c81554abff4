//! Two-track call recordings as Ogg Opus (RFC 7845): caller on the left channel, agent on the
//! right, aligned by sample position since the start of the call.
//!
//! The caller track is continuous and drives encoding: each time it completes a 20 ms frame, the
//! frame is encoded together with whatever agent audio covers the same positions (silence
//! where there is none). Agent audio comes in bursts and may arrive ahead of the caller; it waits
//! in its track buffer until the caller catches up.
//!
//! Buffers: the two track queues grow to the largest backlog seen and are then reused; the
//! interleaved frame and the packet scratch are fixed arrays. The `ogg` crate takes each packet
//! as an owned `Vec`, one small allocation per 20 ms, which is fine off the real-time path.

use std::collections::VecDeque;
use std::io::Write;

use audiopus::coder::Encoder;
use audiopus::{Application, Bitrate, Channels, SampleRate, Signal};
use ogg::writing::{PacketWriteEndInfo, PacketWriter};

/// Ogg Opus granule positions always count 48 kHz samples (RFC 7845 §4).
const GRANULE_RATE: u32 = 48_000;
/// 20 ms frames: the usual Opus frame and the Twilio cadence.
const FRAME_MILLIS: u32 = 20;
/// Close a page after this many packets (1 s) so a crash loses at most about a second.
const PACKETS_PER_PAGE: u64 = 50;
/// Stereo narrowband speech: about 12 kbit/s per track.
const BITRATE: i32 = 24_000;
/// Largest packet we accept from the encoder (RFC 6716 caps a frame at 1275 bytes).
const MAX_PACKET: usize = 1275;
const STREAM_SERIAL: u32 = 0x5C1C_4A01;

/// Why a recording could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OpusError {
    #[error("Opus needs an input rate of 8, 12, 16, 24 or 48 kHz, got {0} Hz")]
    UnsupportedRate(u32),
    #[error("Opus encoder: {0}")]
    Codec(#[from] audiopus::Error),
    #[error("writing the recording: {0}")]
    Io(#[from] std::io::Error),
}

/// One channel's samples not yet encoded; index 0 is the writer's encode position.
#[derive(Debug, Default)]
struct Track {
    pending: VecDeque<i16>,
}

impl Track {
    /// Places `pcm` at `position`, filling any gap with silence and mixing where it overlaps
    /// audio already placed. Returns how many samples fell before `encoded` and were dropped.
    fn place(&mut self, encoded: u64, position: u64, pcm: &[i16]) -> u64 {
        let late = encoded.saturating_sub(position).min(pcm.len() as u64);
        let pcm = &pcm[late as usize..];
        let offset =
            usize::try_from(position.max(encoded) - encoded).expect("position within memory");
        if offset > self.pending.len() {
            self.pending.resize(offset, 0);
        }
        let overlap = (self.pending.len() - offset).min(pcm.len());
        for (slot, &sample) in self.pending.range_mut(offset..offset + overlap).zip(pcm) {
            *slot = slot.saturating_add(sample);
        }
        self.pending.extend(&pcm[overlap..]);
        late
    }

    /// Moves one frame from the front of the track into `channel` of the interleaved stereo
    /// frame, padding with silence where the track runs short.
    fn take_frame_into(&mut self, interleaved: &mut [i16], channel: usize) {
        let available = (interleaved.len() / 2).min(self.pending.len());
        let mut samples = self.pending.drain(..available);
        for slot in interleaved.iter_mut().skip(channel).step_by(2) {
            *slot = samples.next().unwrap_or(0);
        }
    }
}

/// Writes a stereo Ogg Opus recording of a call, caller left and agent right.
pub struct RecordingWriter<W: Write> {
    packets: PacketWriter<'static, W>,
    encoder: Encoder,
    frame_len: usize,
    /// 48 kHz granule units per input sample (6 at 8 kHz).
    granule_per_sample: u64,
    pre_skip: u16,
    caller: Track,
    agent: Track,
    /// Samples per channel already handed to the encoder.
    encoded: u64,
    packets_written: u64,
    late_samples: u64,
    interleaved: Box<[i16]>,
    packet: Box<[u8; MAX_PACKET]>,
}

impl<W: Write> RecordingWriter<W> {
    /// Starts a recording at `sample_rate` (8000 for phone audio) and writes the Opus headers.
    ///
    /// Phone audio is encoded at its own 8 kHz: libopus takes 8 kHz input natively and codes it
    /// as narrowband, so resampling first would only add CPU and delay for the same result.
    /// OpusHead records 8000 as the input rate so decoders can play it back at 8 kHz.
    pub fn new(writer: W, sample_rate: u32) -> Result<Self, OpusError> {
        let opus_rate = match sample_rate {
            8_000 => SampleRate::Hz8000,
            12_000 => SampleRate::Hz12000,
            16_000 => SampleRate::Hz16000,
            24_000 => SampleRate::Hz24000,
            48_000 => SampleRate::Hz48000,
            other => return Err(OpusError::UnsupportedRate(other)),
        };
        let mut encoder = Encoder::new(opus_rate, Channels::Stereo, Application::Voip)?;
        encoder.set_bitrate(Bitrate::BitsPerSecond(BITRATE))?;
        encoder.set_signal(Signal::Voice)?;
        let granule_per_sample = u64::from(GRANULE_RATE / sample_rate);
        // Pre-skip is the encoder's lookahead expressed in 48 kHz samples (RFC 7845 §4.2).
        let pre_skip = u16::try_from(u64::from(encoder.lookahead()?) * granule_per_sample)
            .expect("Opus lookahead is a few milliseconds");
        let frame_len = (sample_rate * FRAME_MILLIS / 1000) as usize;
        let mut packets = PacketWriter::new(writer);
        packets.write_packet(
            opus_head(pre_skip, sample_rate),
            STREAM_SERIAL,
            PacketWriteEndInfo::EndPage,
            0,
        )?;
        packets.write_packet(opus_tags(), STREAM_SERIAL, PacketWriteEndInfo::EndPage, 0)?;
        Ok(Self {
            packets,
            encoder,
            frame_len,
            granule_per_sample,
            pre_skip,
            caller: Track::default(),
            agent: Track::default(),
            encoded: 0,
            packets_written: 0,
            late_samples: 0,
            interleaved: vec![0; 2 * frame_len].into_boxed_slice(),
            packet: Box::new([0; MAX_PACKET]),
        })
    }

    /// Appends caller audio right after the caller's last sample.
    pub fn push_caller(&mut self, pcm: &[i16]) -> Result<(), OpusError> {
        self.push_caller_at(self.caller_end(), pcm)
    }

    /// Appends agent audio right after the agent's last sample.
    pub fn push_agent(&mut self, pcm: &[i16]) -> Result<(), OpusError> {
        self.push_agent_at(self.agent_end(), pcm)
    }

    /// Places caller audio at `position` samples since call start (gaps become silence).
    pub fn push_caller_at(&mut self, position: u64, pcm: &[i16]) -> Result<(), OpusError> {
        self.late_samples += self.caller.place(self.encoded, position, pcm);
        self.encode_ready()
    }

    /// Places agent audio at `position` samples since call start (gaps become silence).
    /// Audio for positions already encoded is dropped and counted in [`Self::late_samples`].
    pub fn push_agent_at(&mut self, position: u64, pcm: &[i16]) -> Result<(), OpusError> {
        self.late_samples += self.agent.place(self.encoded, position, pcm);
        self.encode_ready()
    }

    /// Position just after the last caller sample placed so far.
    pub fn caller_end(&self) -> u64 {
        self.encoded + self.caller.pending.len() as u64
    }

    /// Position just after the last agent sample placed so far.
    pub fn agent_end(&self) -> u64 {
        self.encoded + self.agent.pending.len() as u64
    }

    /// Samples that arrived for positions already encoded, and so were left out.
    pub fn late_samples(&self) -> u64 {
        self.late_samples
    }

    /// Encodes the remaining audio of both tracks, ends the stream and returns the writer.
    /// The recording lasts until the later of the two tracks' ends.
    pub fn finish(mut self) -> Result<W, OpusError> {
        let length = self.caller_end().max(self.agent_end());
        // Keep encoding past the end until the encoder's lookahead has flushed all real audio.
        let lookahead = u64::from(self.pre_skip) / self.granule_per_sample;
        let last_granule = u64::from(self.pre_skip) + length * self.granule_per_sample;
        loop {
            let last = self.encoded + self.frame_len as u64 >= length + lookahead;
            // The last page's granule trims the padding of the final frame (RFC 7845 §4.4).
            let end = last.then_some(last_granule);
            self.encode_frame(end)?;
            if last {
                break;
            }
        }
        let mut writer = self.packets.into_inner();
        writer.flush()?;
        Ok(writer)
    }

    /// Encodes every frame the caller track has completed.
    fn encode_ready(&mut self) -> Result<(), OpusError> {
        while self.caller.pending.len() >= self.frame_len {
            self.encode_frame(None)?;
        }
        Ok(())
    }

    /// Encodes one frame from the front of both tracks (silence where a track runs short).
    /// `end_granule` marks the final packet and carries its trimmed granule position.
    fn encode_frame(&mut self, end_granule: Option<u64>) -> Result<(), OpusError> {
        let frame_len = self.frame_len;
        self.caller.take_frame_into(&mut self.interleaved, 0);
        self.agent.take_frame_into(&mut self.interleaved, 1);
        let len = self
            .encoder
            .encode(&self.interleaved, &mut self.packet[..])?;
        self.encoded += frame_len as u64;
        self.packets_written += 1;
        let granule = end_granule.unwrap_or(self.encoded * self.granule_per_sample);
        let end_info = if end_granule.is_some() {
            PacketWriteEndInfo::EndStream
        } else if self.packets_written.is_multiple_of(PACKETS_PER_PAGE) {
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        self.packets.write_packet(
            self.packet[..len].to_vec(),
            STREAM_SERIAL,
            end_info,
            granule,
        )?;
        Ok(())
    }
}

/// Identification header, RFC 7845 §5.1 (channel mapping family 0: mono or L/R stereo).
fn opus_head(pre_skip: u16, input_rate: u32) -> Vec<u8> {
    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1); // version
    head.push(2); // channels
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&input_rate.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // mapping family
    head
}

/// Comment header, RFC 7845 §5.2, naming the channels for whoever opens the file.
fn opus_tags() -> Vec<u8> {
    let vendor = concat!("sicha-audio ", env!("CARGO_PKG_VERSION"));
    let comments = ["TITLE=call recording", "COMMENT=left: caller, right: agent"];
    let mut tags = Vec::new();
    tags.extend_from_slice(b"OpusTags");
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor.as_bytes());
    tags.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for comment in comments {
        tags.extend_from_slice(&(comment.len() as u32).to_le_bytes());
        tags.extend_from_slice(comment.as_bytes());
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_fills_gaps_mixes_overlaps_and_drops_late_audio() {
        let mut track = Track::default();
        assert_eq!(track.place(0, 2, &[5, 5]), 0);
        assert_eq!(
            track.pending.iter().copied().collect::<Vec<_>>(),
            vec![0, 0, 5, 5]
        );
        assert_eq!(track.place(0, 3, &[1, 1, i16::MAX]), 0);
        assert_eq!(
            track.pending.iter().copied().collect::<Vec<_>>(),
            vec![0, 0, 5, 6, 1, i16::MAX]
        );
        // Once the writer has encoded up to 10, samples placed at 8 and 9 are too late.
        let mut later = Track::default();
        assert_eq!(later.place(10, 8, &[1, 2, 3]), 2);
        assert_eq!(later.pending.iter().copied().collect::<Vec<_>>(), vec![3]);
        assert_eq!(later.place(10, 0, &[9; 4]), 4);
    }

    #[test]
    fn head_is_19_bytes_with_stereo_and_rate() {
        let head = opus_head(312, 8000);
        assert_eq!(head.len(), 19);
        assert_eq!(&head[..8], b"OpusHead");
        assert_eq!(head[9], 2);
        assert_eq!(u16::from_le_bytes([head[10], head[11]]), 312);
        assert_eq!(
            u32::from_le_bytes([head[12], head[13], head[14], head[15]]),
            8000
        );
    }

    #[test]
    fn rejects_rates_opus_cannot_take() {
        assert!(matches!(
            RecordingWriter::new(Vec::new(), 22_050),
            Err(OpusError::UnsupportedRate(22_050))
        ));
    }

    #[test]
    fn caller_drives_encoding_and_agent_waits() {
        let mut writer = RecordingWriter::new(Vec::new(), 8000).unwrap();
        writer.push_agent_at(400, &[1000; 800]).unwrap();
        assert_eq!(writer.encoded, 0);
        writer.push_caller(&[0; 500]).unwrap();
        assert_eq!(
            (writer.encoded, writer.caller_end(), writer.agent_end()),
            (480, 500, 1200)
        );
        writer.push_agent_at(100, &[7; 10]).unwrap();
        assert_eq!(writer.late_samples(), 10);
        let bytes = writer.finish().unwrap();
        assert_eq!(&bytes[..4], b"OggS");
    }
}
