//! What a simulated caller says and when: the lines of a labelled fixture (cut from its audio with
//! their speech labels), each started after the agent's answer has played and a pause, or as a
//! barge-in while the answer is still playing; and what the simulated providers should hear and
//! answer for that script, so a whole call sounds plausible in Hebrew.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::openai::{ChatRule, OpenAiSim};
use super::playback::SAMPLE_RATE;

/// Samples in one 20 ms Media Streams frame.
pub const FRAME_SAMPLES: usize = 160;
/// Audio kept before a line's first labelled sample and after its last: breath, not speech.
const LINE_MARGIN_SAMPLES: usize = 640;
/// The caller's pause after the agent's answer has played, before speaking again.
pub const DEFAULT_PAUSE: Duration = Duration::from_millis(800);

/// The script the demo plays: booking a haircut, five lines (fixtures/scripts/call1_booking).
const DEMO_WAV: &[u8] = include_bytes!("../../fixtures/scripts/call1_booking.wav");
const DEMO_SIDECAR: &str = include_str!("../../fixtures/scripts/call1_booking.json");

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("fixture audio: {0}")]
    Wav(#[from] sicha_audio::wav::WavError),
    #[error("fixture labels: {0}")]
    Sidecar(#[from] serde_json::Error),
    #[error("fixture audio must be 8 kHz (Twilio's rate), not {0} Hz")]
    SampleRate(u32),
    #[error("the fixture has no labelled speech")]
    NoSpeech,
    #[error("line {0} does not exist in this scenario")]
    NoSuchLine(usize),
}

/// When a line starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineStart {
    /// After the agent's answer (or the greeting) has played and been quiet this long.
    AfterAnswer { pause: Duration },
    /// This long after the agent's previous answer started playing, whether or not it has finished.
    BargeIn { after_answer_starts: Duration },
}

/// One caller line, as μ-law frames with a speech flag per frame from the fixture's labels.
#[derive(Debug, Clone)]
pub struct ScenarioLine {
    pub text: String,
    /// μ-law 8 kHz, a whole number of 20 ms frames.
    pub codes: Vec<u8>,
    /// Per frame: whether it overlaps labelled speech.
    pub voiced: Vec<bool>,
    pub start: LineStart,
    /// The labelled parts of a line said with pauses in it (the end-of-turn fixtures), in order;
    /// empty when the fixture does not label any.
    pub parts: Vec<LinePart>,
}

/// A stretch of a line between pauses, as its fixture labels it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinePart {
    pub text: String,
    /// The line's frames its speech begins and ends in (inclusive).
    pub first_frame: usize,
    pub last_frame: usize,
    /// Whether what was said up to its end is a finished utterance.
    pub complete: bool,
}

impl ScenarioLine {
    pub fn frames(&self) -> impl Iterator<Item = (&[u8], bool)> {
        self.codes
            .chunks(FRAME_SAMPLES)
            .zip(self.voiced.iter().copied())
    }

    /// Every run of two or more labelled parts short of the whole line, and every part alone, with
    /// what is said in it and its audio: what an utterance cut at a pause, or resumed after one,
    /// says.
    pub fn part_runs(&self) -> Vec<(String, &[u8])> {
        let count = self.parts.len();
        let mut runs = Vec::new();
        for first in 0..count {
            for last in first..count {
                if first == 0 && last + 1 == count {
                    continue; // the whole line
                }
                let text = self.parts[first..=last]
                    .iter()
                    .map(|p| p.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let from = self.parts[first].first_frame * FRAME_SAMPLES;
                let to = (self.parts[last].last_frame + 1) * FRAME_SAMPLES;
                runs.push((text, &self.codes[from..to.min(self.codes.len())]));
            }
        }
        runs
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.codes.len() as f64 / f64::from(SAMPLE_RATE))
    }
}

/// A whole call from the caller's side, with what the simulated providers should do for it.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub lines: Vec<ScenarioLine>,
    /// What the speech-to-text stand-in hears, one per caller line in order.
    pub transcripts: Vec<String>,
    /// How the chat stand-in answers.
    pub chat_rules: Vec<ChatRule>,
}

#[derive(Debug, Deserialize)]
struct Sidecar {
    #[serde(default)]
    text: serde_json::Value,
    speech: Vec<[usize; 2]>,
    #[serde(default)]
    lines: Vec<SidecarLine>,
    #[serde(default)]
    parts: Vec<SidecarPart>,
}

#[derive(Debug, Deserialize)]
struct SidecarLine {
    text: String,
    start: usize,
    end: usize,
}

/// A labelled part of a single utterance said with pauses (`parts` of the end-of-turn fixtures).
#[derive(Debug, Deserialize)]
struct SidecarPart {
    text: String,
    start: usize,
    end: usize,
    complete: bool,
}

impl Scenario {
    /// A fixture file (a script, or a single utterance) with its JSON sidecar next to it, every
    /// line started after the previous answer. Transcripts are the labelled texts; no chat rules.
    pub fn from_fixture(wav_path: &Path) -> Result<Self, ScenarioError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| ScenarioError::Io {
                path: path.display().to_string(),
                source,
            })
        };
        let wav = read(wav_path)?;
        let sidecar = read(&wav_path.with_extension("json"))?;
        let name = wav_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::from_bytes(&name, &wav, &String::from_utf8_lossy(&sidecar))
    }

    /// Like [`Self::from_fixture`], from the file contents.
    pub fn from_bytes(name: &str, wav: &[u8], sidecar: &str) -> Result<Self, ScenarioError> {
        let audio = sicha_audio::wav::read_wav(wav)?;
        if audio.sample_rate != SAMPLE_RATE {
            return Err(ScenarioError::SampleRate(audio.sample_rate));
        }
        let mut codes = vec![0u8; audio.samples.len()];
        sicha_audio::mulaw::encode_into(&audio.samples, &mut codes);
        let sidecar: Sidecar = serde_json::from_str(sidecar)?;
        let spans = if sidecar.lines.is_empty() {
            // A single utterance: one line from its first to its last labelled sample.
            let first = sidecar.speech.first().ok_or(ScenarioError::NoSpeech)?[0];
            let last = sidecar.speech.last().ok_or(ScenarioError::NoSpeech)?[1];
            let text = match &sidecar.text {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            vec![SidecarLine {
                text,
                start: first,
                end: last,
            }]
        } else {
            sidecar.lines
        };
        let mut lines: Vec<ScenarioLine> = spans
            .iter()
            .map(|line| cut_line(&codes, &sidecar.speech, line))
            .collect();
        if let [line] = lines.as_mut_slice() {
            // Parts label a single utterance: the line is all of it.
            let cut_from = spans[0].start.saturating_sub(LINE_MARGIN_SAMPLES);
            line.parts = line_parts(&sidecar.parts, cut_from, line.voiced.len());
        }
        Ok(Self {
            name: name.to_string(),
            transcripts: lines.iter().map(|l| l.text.clone()).collect(),
            lines,
            chat_rules: Vec::new(),
        })
    }

    /// The demo call: a haircut booked at a barber's, in five lines, the caller cutting in on the
    /// third (the agent is still reading out the free times when the caller picks one).
    pub fn demo() -> Self {
        let mut scenario = Self::from_bytes("call1_booking", DEMO_WAV, DEMO_SIDECAR)
            .expect("the embedded demo fixture is valid");
        scenario
            .barge_in(2, Duration::from_millis(2500))
            .expect("the demo script has a third line");
        scenario.chat_rules = demo_rules();
        scenario
    }

    /// Makes line `index` start `after_answer_starts` into the previous answer's playback.
    pub fn barge_in(
        &mut self,
        index: usize,
        after_answer_starts: Duration,
    ) -> Result<(), ScenarioError> {
        let line = self
            .lines
            .get_mut(index)
            .ok_or(ScenarioError::NoSuchLine(index))?;
        line.start = LineStart::BargeIn {
            after_answer_starts,
        };
        Ok(())
    }

    /// Teaches the simulated OpenAI-compatible server each line (its audio and text, and each run of
    /// its labelled parts), so that its
    /// transcriptions hear a line by its sound whichever call sends it, and adds the chat rules.
    /// Many calls may teach the same scenario: nothing is learned or added twice.
    pub fn teach(&self, openai: &OpenAiSim) {
        let mut samples = Vec::new();
        let mut learn = |text: &str, codes: &[u8]| {
            samples.resize(codes.len(), 0);
            sicha_audio::mulaw::decode_into(codes, &mut samples);
            openai.learn_utterance(text, &samples);
        };
        for line in &self.lines {
            learn(&line.text, &line.codes);
            // A line said with pauses is also heard in pieces: an utterance ended at a pause, or
            // started after one, says only what it holds, as a real recogniser would hear it.
            for (text, codes) in line.part_runs() {
                learn(&text, codes);
            }
        }
        for rule in &self.chat_rules {
            openai.add_chat_rule(rule.clone());
        }
    }

    /// Indices of the lines that barge in.
    pub fn barge_in_lines(&self) -> Vec<usize> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l.start, LineStart::BargeIn { .. }))
            .map(|(i, _)| i)
            .collect()
    }
}

/// The demo business: who answers the demo call.
pub mod demo_business {
    pub const NUMBER: &str = "+97235550100";
    pub const NAME: &str = "מספרת שירה";
    pub const GREETING: &str = "שלום, הגעתם למספרת שירה. במה אפשר לעזור?";
    pub const PROMPT: &str = "את עוזרת טלפונית של מספרת שירה בתל אביב. עני בקצרה, בעברית, ובנימוס. \
        אפשר לקבוע תורים מיום ראשון עד שישי. מי שמבקש נציג מועבר לשירה.";
    pub const TRANSFER_TO: &str = "+972535550199";
    pub const CALLER: &str = "+972545550123";

    /// The business as `sicha business add` takes it.
    pub fn spec() -> sicha::store::NewBusiness {
        sicha::store::NewBusiness {
            number: NUMBER.to_string(),
            name: NAME.to_string(),
            greeting: GREETING.to_string(),
            system_prompt: PROMPT.to_string(),
            voice: None,
            transfer_to: Some(TRANSFER_TO.to_string()),
            dtmf_map: None,
            sms_policy: None,
            preemptive_replies: None,
            tools: None,
            opening_hours: None,
        }
    }
}

/// What the demo's agent answers, by a phrase of the caller's line (the first match wins). The times
/// and the booking come from the shop's booking system through its tools: the agent says a time is
/// free only after looking, and that it booked only after the booking tool said so.
fn demo_rules() -> Vec<ChatRule> {
    vec![
        ChatRule::reply("לקבוע תור", "בשמחה. לאיזה יום תרצה לקבוע?"),
        ChatRule::tool_call(
            "חמישי",
            "check_availability",
            serde_json::json!({ "day": "חמישי" }),
        )
        .with_reply("רגע, אני בודקת ביומן.")
        .then_say(
            "ביום חמישי אחרי הצהריים יש כמה תורים פנויים. יש תור באחת וחצי. יש תור בשלוש. \
             יש תור בארבע וחצי. ויש גם תור בשש בערב.",
        ),
        ChatRule::reply("ארבע וחצי", "ארבע וחצי ביום חמישי. על איזה שם לרשום?"),
        ChatRule::tool_call(
            "דני",
            "book_appointment",
            serde_json::json!({ "day": "חמישי", "time": "16:30", "name": "דני" }),
        )
        .then_say("קבעתי לך תור ליום חמישי בארבע וחצי על שם דני. נשלח לך תזכורת יום לפני."),
        ChatRule::reply("להתראות", "להתראות דני, יום נעים!"),
    ]
}

/// Cuts one line out of the fixture with a small margin, padded to whole frames, with a speech flag
/// per frame from the labelled spans.
fn cut_line(codes: &[u8], speech: &[[usize; 2]], line: &SidecarLine) -> ScenarioLine {
    let from = line.start.saturating_sub(LINE_MARGIN_SAMPLES);
    let to = (line.end + LINE_MARGIN_SAMPLES).min(codes.len()).max(from);
    let mut cut = codes[from..to].to_vec();
    let frames = cut.len().div_ceil(FRAME_SAMPLES);
    cut.resize(frames * FRAME_SAMPLES, sicha_audio::mulaw::SILENCE);
    let voiced = (0..frames)
        .map(|frame| {
            let start = from + frame * FRAME_SAMPLES;
            let end = start + FRAME_SAMPLES;
            speech.iter().any(|[s, e]| *s < end && *e > start)
        })
        .collect();
    ScenarioLine {
        text: line.text.clone(),
        codes: cut,
        voiced,
        start: LineStart::AfterAnswer {
            pause: DEFAULT_PAUSE,
        },
        parts: Vec::new(),
    }
}

/// The labelled parts placed on the frames of a line cut from sample `cut_from` on, `frames` long.
fn line_parts(parts: &[SidecarPart], cut_from: usize, frames: usize) -> Vec<LinePart> {
    let last = frames.saturating_sub(1);
    parts
        .iter()
        .map(|part| LinePart {
            text: part.text.clone(),
            first_frame: (part.start.saturating_sub(cut_from) / FRAME_SAMPLES).min(last),
            last_frame: (part.end.saturating_sub(cut_from + 1) / FRAME_SAMPLES).min(last),
            complete: part.complete,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_script_has_five_labelled_lines_and_one_barge_in() {
        let demo = Scenario::demo();
        assert_eq!(demo.lines.len(), 5);
        assert_eq!(demo.transcripts[2], "בארבע וחצי זה מצוין");
        assert_eq!(demo.barge_in_lines(), vec![2]);
        for line in &demo.lines {
            assert_eq!(line.codes.len(), line.voiced.len() * FRAME_SAMPLES);
            // The margin is unvoiced; the middle of the line is speech.
            assert!(!line.voiced[0] && !line.voiced[line.voiced.len() - 1]);
            assert!(line.voiced.iter().filter(|v| **v).count() > 25);
        }
        // Every line is answered by its own rule.
        for text in &demo.transcripts {
            let rule = demo
                .chat_rules
                .iter()
                .find(|r| text.contains(&r.when_contains));
            assert!(rule.is_some(), "no reply for {text}");
        }
    }

    #[test]
    fn a_single_utterance_is_one_line() {
        let sidecar = r#"{"text": "שלום", "sample_rate": 8000, "speech": [[1600, 3200], [4000, 4800]], "kind": "utterance"}"#;
        let wav = sicha_audio::wav::pcm16_to_wav_bytes(&[1000; 8000], 8000);
        let scenario = Scenario::from_bytes("one", &wav, sidecar).unwrap();
        assert_eq!(scenario.lines.len(), 1);
        let line = &scenario.lines[0];
        assert_eq!(line.text, "שלום");
        // From 1600 - 640 to 4800 + 640 samples: 4480, i.e. 28 frames.
        assert_eq!(line.voiced.len(), 28);
        assert_eq!(line.voiced.iter().filter(|v| **v).count(), 15);
        assert!(Scenario::from_bytes("x", &wav, r#"{"speech": []}"#).is_err());
        assert!(line.parts.is_empty());
    }

    #[test]
    fn a_line_said_with_pauses_keeps_its_labelled_parts() {
        let sidecar = r#"{"text": "אני רוצה עם הספרית", "speech": [[1600, 3200], [4800, 6400]],
            "kind": "pause", "parts": [
                {"text": "אני רוצה עם", "start": 1600, "end": 3200, "complete": false},
                {"text": "הספרית", "start": 4800, "end": 6400, "complete": true}]}"#;
        let wav = sicha_audio::wav::pcm16_to_wav_bytes(&[1000; 8000], 8000);
        let scenario = Scenario::from_bytes("pause", &wav, sidecar).unwrap();
        let line = &scenario.lines[0];
        // The line is cut from sample 960: the first part fills frames 4..=13, the second 24..=33.
        let frames: Vec<(usize, usize, bool)> = line
            .parts
            .iter()
            .map(|p| (p.first_frame, p.last_frame, p.complete))
            .collect();
        assert_eq!(frames, vec![(4, 13, false), (24, 33, true)]);
        for part in &line.parts {
            assert!(line.voiced[part.first_frame] && line.voiced[part.last_frame]);
            assert!(!line.voiced[part.first_frame - 1] && !line.voiced[part.last_frame + 1]);
        }
        // Each part alone is heard too; the whole line is the line itself.
        let runs: Vec<String> = line.part_runs().into_iter().map(|(t, _)| t).collect();
        assert_eq!(runs, vec!["אני רוצה עם", "הספרית"]);
        let (_, first) = &line.part_runs()[0];
        assert_eq!(first.len(), 10 * FRAME_SAMPLES);
    }
}
