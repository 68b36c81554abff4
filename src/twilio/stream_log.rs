//! Recorded Media Streams sessions: every text frame Twilio sent on one socket, exactly as sent, with
//! its arrival time in milliseconds since the socket opened, one JSON object per line:
//! `{"at_ms":20,"text":"{\"event\":\"media\",…}"}`. Written by `sicha serve --record-streams DIR`, read
//! back by `sicha call --replay FILE`, which sends the same messages at the same offsets.

use std::fs::File;
use std::io::{BufRead, LineWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// One inbound frame as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedMessage {
    pub at_ms: u64,
    pub text: String,
}

/// Appends one socket's inbound frames to `DIR/<epoch ms>-<id>.jsonl`, a line at a time (so a crash
/// loses at most the line being written).
pub struct StreamLogWriter {
    path: PathBuf,
    file: LineWriter<File>,
    opened: Instant,
}

impl StreamLogWriter {
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let name = format!(
            "{}-{}.jsonl",
            crate::clock::now_ms(),
            uuid::Uuid::new_v4().simple()
        );
        let path = dir.join(name);
        let file = LineWriter::new(File::create(&path)?);
        Ok(Self {
            path,
            file,
            opened: Instant::now(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records one text frame, stamped with the time since the socket opened.
    pub fn record(&mut self, text: &str) -> std::io::Result<()> {
        let line = LoggedMessage {
            at_ms: self.opened.elapsed().as_millis() as u64,
            text: text.to_string(),
        };
        let json = serde_json::to_string(&line).map_err(std::io::Error::other)?;
        writeln!(self.file, "{json}")
    }
}

/// Reads a recorded session; blank lines are skipped, a malformed line is an error naming its number.
pub fn read_stream_log(reader: impl BufRead) -> Result<Vec<LoggedMessage>, String> {
    let mut messages = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", index + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let message =
            serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", index + 1))?;
        messages.push(message);
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_session_reads_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = StreamLogWriter::create(dir.path()).unwrap();
        writer
            .record(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#)
            .unwrap();
        writer.record("not json at all, kept as sent").unwrap();
        let path = writer.path().to_path_buf();
        drop(writer);
        let messages = read_stream_log(std::io::BufReader::new(File::open(path).unwrap())).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].text, "not json at all, kept as sent");
        assert!(messages[0].at_ms <= messages[1].at_ms);
        assert!(
            read_stream_log("{\"at_ms\":1}\n".as_bytes())
                .unwrap_err()
                .contains("line 1")
        );
    }
}
