//! Call recordings (`SICHA_RECORDINGS_DIR`): both tracks of a call in one Ogg Opus file, the caller on
//! the left channel and the agent on the right, written as the call goes.
//!
//! The caller's audio arrives in real time, so its sample count is the call's clock. The agent's audio
//! is sent to Twilio faster than real time and Twilio plays it from a buffer; the recording models that
//! buffer: agent audio waits in `pending` and is written as the caller clock advances past the moment
//! it would have played, and a `clear` drops what had not played yet. So the file holds what the caller
//! actually heard, where they heard it.
//!
//! Files are created new, never overwritten: `DIR/CALLSID.opus`, and a later part of the same call
//! (a session on another instance) goes to `DIR/CALLSID-2.opus` beside it (see [`create_new_part`]).

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use sicha_audio::mulaw;
use sicha_audio::opus::{OpusError, RecordingWriter};

pub struct CallRecording {
    path: PathBuf,
    writer: RecordingWriter<BufWriter<File>>,
    /// Caller samples recorded so far: the call's clock, in 8 kHz samples.
    caller_position: u64,
    /// Agent audio sent but not yet played.
    pending: VecDeque<i16>,
    /// Where the next pending agent sample plays.
    agent_position: u64,
    /// Reused for moving pending audio into the writer.
    scratch: Vec<i16>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recording file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("recording encoder: {0}")]
    Encoder(#[from] OpusError),
}

impl CallRecording {
    /// Starts `DIR/CALLSID.opus`. The CallSid is Twilio's (letters and digits); anything else is
    /// refused rather than trusted as a file name.
    pub fn start(dir: &Path, call_sid: &str) -> Result<Self, RecordingError> {
        if call_sid.is_empty() || !call_sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            let source = std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "CallSid is not alphanumeric",
            );
            return Err(RecordingError::File {
                path: call_sid.to_string(),
                source,
            });
        }
        let file_error = |path: &Path, source| RecordingError::File {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
        let (path, file) =
            create_new_part(dir, call_sid).map_err(|(path, e)| file_error(&path, e))?;
        let writer = RecordingWriter::new(BufWriter::new(file), 8000)?;
        Ok(Self {
            path,
            writer,
            caller_position: 0,
            pending: VecDeque::new(),
            agent_position: 0,
            scratch: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The caller's audio, in arrival order; advances the clock and writes the agent audio that played.
    pub fn caller(&mut self, pcm: &[i16]) -> Result<(), RecordingError> {
        // The agent's audio for this stretch goes in first: the writer encodes as soon as the caller
        // track is long enough, and audio placed after that would be too late.
        let end = self.caller_position + pcm.len() as u64;
        self.play_pending_until(end)?;
        self.writer.push_caller_at(self.caller_position, pcm)?;
        self.caller_position = end;
        Ok(())
    }

    /// Agent audio as sent to Twilio (μ-law); it plays after whatever is still pending.
    pub fn agent(&mut self, codes: &[u8]) {
        if self.pending.is_empty() {
            self.agent_position = self.agent_position.max(self.caller_position);
        }
        self.pending
            .extend(codes.iter().map(|&code| mulaw::decode(code)));
    }

    /// Twilio dropped its buffer: the agent audio not yet played never will be.
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    fn play_pending_until(&mut self, position: u64) -> Result<(), RecordingError> {
        let due = position
            .saturating_sub(self.agent_position)
            .min(self.pending.len() as u64) as usize;
        if due == 0 {
            return Ok(());
        }
        self.scratch.clear();
        self.scratch.extend(self.pending.drain(..due));
        self.writer
            .push_agent_at(self.agent_position, &self.scratch)?;
        self.agent_position += due as u64;
        Ok(())
    }

    /// Writes what is left (pending agent audio plays out) and closes the file; returns its path.
    pub fn finish(mut self) -> Result<PathBuf, RecordingError> {
        let end = self.agent_position + self.pending.len() as u64;
        if end > self.caller_position {
            // Pad the caller track so the agent's last words fit in the file.
            self.play_pending_until(end)?;
            let silence = vec![0i16; (end - self.caller_position) as usize];
            self.writer.push_caller_at(self.caller_position, &silence)?;
            self.caller_position = end;
        }
        let mut file = self.writer.finish()?;
        std::io::Write::flush(&mut file).map_err(|source| RecordingError::File {
            path: self.path.display().to_string(),
            source,
        })?;
        Ok(self.path)
    }
}

/// Most files one call may leave: far more than a call moving between instances ever needs.
const MAX_PARTS: u32 = 100;

/// Creates `DIR/CALLSID.opus`, or when that exists `DIR/CALLSID-2.opus`, `-3`… A file is only ever
/// created new, never opened over an existing one: an Ogg stream cannot be appended to, and a finished
/// call's recording must never be truncated by a later stream naming the same call. A second part is
/// legitimate only when another session took the call over (another instance after a reconnect);
/// the call row then names the part that finished last, and the others lie beside it.
fn create_new_part(
    dir: &Path,
    call_sid: &str,
) -> Result<(PathBuf, File), (PathBuf, std::io::Error)> {
    let mut part = 1;
    loop {
        let name = match part {
            1 => format!("{call_sid}.opus"),
            n => format!("{call_sid}-{n}.opus"),
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && part < MAX_PARTS => {
                part += 1;
            }
            Err(error) => return Err((path, error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_audio_is_written_as_it_would_have_played_and_cleared_audio_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut recording = CallRecording::start(dir.path(), "CA1").unwrap();
        recording.caller(&[0; 800]).unwrap();
        recording.agent(&[mulaw::encode(8000); 1600]); // 200 ms of agent audio sent at once
        recording.caller(&[0; 800]).unwrap(); // 100 ms later: half of it played
        assert_eq!(recording.agent_position, 1600);
        assert_eq!(recording.pending.len(), 800);
        recording.clear(); // barge-in: the rest never plays
        recording.caller(&[0; 800]).unwrap();
        assert_eq!(recording.agent_position, 1600);
        assert_eq!(
            recording.writer.late_samples(),
            0,
            "no agent audio arrived after its stretch was encoded"
        );
        let path = recording.finish().unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
    }

    #[test]
    fn a_later_recording_of_the_same_call_never_overwrites_an_earlier_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = CallRecording::start(dir.path(), "CA1").unwrap();
        first.caller(&[100; 8000]).unwrap();
        let first_path = first.finish().unwrap();
        let first_bytes = std::fs::read(&first_path).unwrap();

        let second = CallRecording::start(dir.path(), "CA1").unwrap();
        assert_ne!(second.path(), first_path.as_path());
        assert_eq!(second.path(), dir.path().join("CA1-2.opus"));
        let third = CallRecording::start(dir.path(), "CA1").unwrap();
        assert_eq!(third.path(), dir.path().join("CA1-3.opus"));
        second.finish().unwrap();
        assert_eq!(std::fs::read(&first_path).unwrap(), first_bytes);
    }

    #[test]
    fn odd_call_sids_are_not_file_names() {
        let dir = tempfile::tempdir().unwrap();
        assert!(CallRecording::start(dir.path(), "../etc/x").is_err());
    }
}
