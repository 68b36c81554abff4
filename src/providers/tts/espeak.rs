//! espeak-ng run locally (`espeak-ng -v he -s <rate> --stdout --stdin`): robotic but always there, the
//! last resort when the network providers fail. The text goes in on stdin, never through a shell or
//! the argument list, so nothing in it can be read as an option. The WAV it writes to stdout (22.05 kHz
//! 16-bit, sizes left as placeholders because a pipe cannot seek) is decoded and resampled as it
//! arrives. Dropping the stream kills the process.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdout, Command};

use super::audio::{Pcm16Splitter, ToLineRate, WavEncoding, parse_wav_header};
use super::request::InputLimit;
use super::{PcmStream, TtsError, TtsTimeouts};

/// Longest text handed to one process; a sentence is far shorter.
pub const MAX_INPUT_CHARS: usize = 4096;
const READ_CHUNK: usize = 8192;

#[derive(Debug, Clone)]
pub struct EspeakConfig {
    /// The executable, looked up on `PATH` unless absolute.
    pub program: PathBuf,
    /// An espeak-ng voice, used when the caller names none.
    pub voice: String,
    pub words_per_minute: u32,
    pub timeouts: TtsTimeouts,
}

impl Default for EspeakConfig {
    /// Hebrew at a slightly unhurried rate, which is easier to follow over a phone line.
    fn default() -> Self {
        Self {
            program: PathBuf::from("espeak-ng"),
            voice: "he".to_string(),
            words_per_minute: 150,
            timeouts: TtsTimeouts::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EspeakTts {
    config: EspeakConfig,
}

impl EspeakTts {
    pub fn new(config: EspeakConfig) -> Self {
        Self { config }
    }

    pub fn timeouts(&self) -> TtsTimeouts {
        self.config.timeouts
    }

    pub(super) async fn open(
        &self,
        text: &str,
        voice: Option<&str>,
    ) -> Result<PcmStream, TtsError> {
        InputLimit::Chars(MAX_INPUT_CHARS).check(text)?;
        let rate = self.config.words_per_minute.to_string();
        let voice = voice.unwrap_or(&self.config.voice);
        let args = ["-v", voice, "-s", &rate, "--stdout", "--stdin"];
        let mut child = spawn(&self.config.program, &args)?;
        let mut stdin = child.stdin.take().expect("stdin was piped");
        // espeak-ng reads all of stdin before speaking, so it must be closed (dropped) here.
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|error| TtsError::Unavailable(format!("espeak-ng refused input: {error}")))?;
        drop(stdin);
        let stdout = child.stdout.take().expect("stdout was piped");
        Ok(output_stream(child, stdout))
    }
}

/// Starts `program` with piped stdin and stdout, killed when its handle is dropped.
fn spawn(program: &Path, args: &[&str]) -> Result<Child, TtsError> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => {
                TtsError::Unavailable(format!("{} is not installed", program.display()))
            }
            _ => TtsError::Unavailable(format!("cannot start {}: {error}", program.display())),
        })
}

struct Output {
    /// Held so that dropping the stream kills the process.
    child: Child,
    stdout: ChildStdout,
    /// Bytes collected until the WAV header is complete.
    header_bytes: Vec<u8>,
    decoder: Option<(Pcm16Splitter, ToLineRate)>,
    produced: bool,
    ended: bool,
}

fn output_stream(child: Child, stdout: ChildStdout) -> PcmStream {
    let output = Output {
        child,
        stdout,
        header_bytes: Vec::new(),
        decoder: None,
        produced: false,
        ended: false,
    };
    Box::pin(futures::stream::unfold(output, |mut output| async move {
        if output.ended {
            return None;
        }
        let item = output.next_chunk().await;
        if item.is_err() {
            output.ended = true;
        }
        Some((item, output))
    }))
}

impl Output {
    async fn next_chunk(&mut self) -> Result<Vec<i16>, TtsError> {
        let mut buffer = vec![0u8; READ_CHUNK];
        let read =
            self.stdout.read(&mut buffer).await.map_err(|error| {
                TtsError::Unavailable(format!("reading espeak-ng output: {error}"))
            })?;
        if read == 0 {
            return self.finish().await;
        }
        let bytes = &buffer[..read];
        let samples = match &mut self.decoder {
            Some((splitter, to_line)) => {
                let mut pcm = Vec::with_capacity(read / 2 + 1);
                splitter.push(bytes, &mut pcm);
                to_line.process(&pcm)
            }
            None => self.read_header(bytes)?,
        };
        self.produced |= !samples.is_empty();
        Ok(samples)
    }

    /// Collects header bytes; once the header is complete, decodes whatever followed it.
    fn read_header(&mut self, bytes: &[u8]) -> Result<Vec<i16>, TtsError> {
        self.header_bytes.extend_from_slice(bytes);
        let Some(header) = parse_wav_header(&self.header_bytes)? else {
            return Ok(Vec::new());
        };
        if header.encoding != WavEncoding::Pcm16 {
            return Err(TtsError::Decode(
                "espeak-ng wrote μ-law, expected PCM".to_string(),
            ));
        }
        let mut splitter = Pcm16Splitter::default();
        let mut to_line = ToLineRate::new(header.sample_rate)?;
        let mut pcm = Vec::new();
        splitter.push(&self.header_bytes[header.data_offset..], &mut pcm);
        let samples = to_line.process(&pcm);
        self.decoder = Some((splitter, to_line));
        self.header_bytes = Vec::new();
        Ok(samples)
    }

    async fn finish(&mut self) -> Result<Vec<i16>, TtsError> {
        self.ended = true;
        let status =
            self.child.wait().await.map_err(|error| {
                TtsError::Unavailable(format!("waiting for espeak-ng: {error}"))
            })?;
        let Some((_, to_line)) = &mut self.decoder else {
            return Err(match status.success() {
                true => TtsError::Decode("espeak-ng wrote no WAV header".to_string()),
                false => TtsError::Unavailable(format!("espeak-ng failed: {status}")),
            });
        };
        if !status.success() && !self.produced {
            return Err(TtsError::Unavailable(format!("espeak-ng failed: {status}")));
        }
        Ok(to_line.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tts::Tts;

    #[tokio::test]
    async fn a_missing_program_is_unavailable() {
        let tts = Tts::Espeak(EspeakTts::new(EspeakConfig {
            program: PathBuf::from("espeak-ng-that-does-not-exist"),
            ..EspeakConfig::default()
        }));
        let result = tts.synthesize("שלום", None).await;
        assert!(
            matches!(result, Err(TtsError::Unavailable(_))),
            "{:?}",
            result.err()
        );
    }

    #[tokio::test]
    async fn a_program_that_prints_no_wav_is_a_failure() {
        // `true` accepts any arguments, reads nothing and writes nothing.
        let tts = Tts::Espeak(EspeakTts::new(EspeakConfig {
            program: PathBuf::from("true"),
            ..EspeakConfig::default()
        }));
        // It may exit before taking the text (a refused pipe) or after: both must be failures.
        let error = match tts.synthesize("שלום", None).await {
            Err(error) => error,
            Ok(mut stream) => match futures::StreamExt::next(&mut stream).await {
                Some(Err(error)) => error,
                other => panic!("expected a failure, got {other:?}"),
            },
        };
        assert!(
            matches!(error, TtsError::Decode(_) | TtsError::Unavailable(_)),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn dropping_the_stream_kills_the_process() {
        let mut child =
            spawn(Path::new("sleep"), &["30"]).expect("`sleep` is on every base system");
        let pid = child.id().expect("a running child has an id");
        let stdout = child.stdout.take().unwrap();
        drop(output_stream(child, stdout));
        let alive = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| !stat.contains(") Z "))
        };
        for _ in 0..100 {
            if !alive(pid) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("process {pid} outlived its stream");
    }
}
