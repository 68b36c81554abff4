//! Hearing an upload: the transcriptions stand-in knows the lines simulated callers say (text and
//! audio) and answers an upload with the text of the line it contains, as a real speech-to-text
//! service hears the audio it is sent. Many calls can then share one stand-in without taking each
//! other's lines, which a single queue of transcripts cannot do.
//!
//! The fingerprint is a contour with one point per 20 ms of 8 kHz audio: loudness in dB, and
//! spectral tilt (the energy of the first difference over the energy, in dB: high on fricatives,
//! low on vowels). An upload is compared with each known line at every alignment where the line
//! covers most of the upload's speech, by the Pearson correlation of the two contours over the
//! frames they share: a gain does not change it, and the silence the endpointer leaves around the
//! speech lies outside the line and is not compared.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;
use std::sync::Mutex;

// One contour point per 20 ms, a Media Streams frame.
use sicha_audio::frame::FRAME_SAMPLES;
use sicha_audio::resample::StreamResampler;

/// The rate fingerprints are taken at: the phone line's.
const SAMPLE_RATE: u32 = 8000;
/// Frames quieter than this far below the loudest read as that quiet, so the exact level of
/// silence and line noise (which μ-law and resampling change most) does not count.
const LOUDNESS_RANGE_DB: f32 = 45.0;
/// Frames within this of the loudest are speech, for where the speech starts and ends.
const SPEECH_WITHIN_DB: f32 = 30.0;
/// Below this peak (mean square in 16-bit units, dB; about −60 dBFS) the audio is silence.
const MIN_PEAK_DB: f32 = 30.0;
/// Less speech than this (200 ms) is too little to tell lines apart.
const MIN_SPEECH_FRAMES: usize = 10;
/// A line must overlap this share of the upload's speech to be what the upload says.
const SPEECH_COVERED: f32 = 0.8;
/// Taken off the score per share of the line's speech the upload lacks, so that a fragment that
/// happens to resemble part of a long line loses to a line heard whole.
const UNHEARD_PENALTY: f32 = 0.2;
/// The best line is accepted from this score up (a line heard again scores above 0.95; unrelated
/// lines score below 0.6 on the fixtures)...
const ACCEPT_SCORE: f32 = 0.8;
/// ...and only when a line with another text (not one that goes on from its words) scores this
/// much less.
const MIN_MARGIN: f32 = 0.05;
/// Longer uploads are only compared over their first two minutes, which bounds the cost.
const MAX_UPLOAD_SECS: usize = 120;

/// The lines the stand-in can recognise, each with its contour computed once.
#[derive(Debug, Clone, Default)]
pub(super) struct UtteranceLibrary {
    lines: Vec<KnownLine>,
    /// A hash of the text and audio of every line offered, so one offered again costs no memory.
    offered: HashSet<u64>,
    answered: AnswerCache,
}

/// What the library answered, by a hash of the upload's samples and rate. Calls that say the same
/// line upload the same audio, and comparing it with every line again was most of what a bench's
/// transcriptions cost. A changed library starts with none: a clone gets an empty cache.
#[derive(Debug, Default)]
struct AnswerCache(Mutex<HashMap<u64, Option<usize>>>);

/// Past this many answers the cache is emptied; a bench says far fewer different things.
const MAX_ANSWERS: usize = 4096;

impl Clone for AnswerCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl AnswerCache {
    fn get_or_insert_with(
        &self,
        key: u64,
        answer: impl FnOnce() -> Option<usize>,
    ) -> Option<usize> {
        let cached = self.lock().get(&key).copied();
        if let Some(answer) = cached {
            return answer;
        }
        let answer = answer();
        let mut answers = self.lock();
        if answers.len() >= MAX_ANSWERS {
            answers.clear();
        }
        answers.insert(key, answer);
        answer
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Option<usize>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug, Clone)]
struct KnownLine {
    text: String,
    contour: Contour,
}

impl UtteranceLibrary {
    /// Whether this text with this audio was offered before.
    pub(super) fn knows(&self, text: &str, samples_8k: &[i16]) -> bool {
        self.offered.contains(&offer_key(text, samples_8k))
    }

    /// Learns that `samples_8k` (8 kHz PCM) says `text`. Returns whether the library grew: not
    /// when the same text and audio were offered before, nor when the audio holds no speech.
    pub(super) fn learn(&mut self, text: &str, samples_8k: &[i16]) -> bool {
        if !self.offered.insert(offer_key(text, samples_8k)) {
            return false;
        }
        let Some(contour) = Contour::of(samples_8k) else {
            return false;
        };
        self.lines.push(KnownLine {
            text: text.to_string(),
            contour,
        });
        true
    }

    pub(super) fn len(&self) -> usize {
        self.lines.len()
    }

    /// The text of the known line that `samples` (at `sample_rate`) says, if one clearly does.
    pub(super) fn recognise(&self, samples: &[i16], sample_rate: u32) -> Option<&str> {
        if self.lines.is_empty() {
            return None;
        }
        let mut hasher = DefaultHasher::new();
        (samples, sample_rate).hash(&mut hasher);
        let line = self
            .answered
            .get_or_insert_with(hasher.finish(), || self.compare(samples, sample_rate))?;
        Some(self.lines[line].text.as_str())
    }

    /// Which known line `samples` says, by comparing it with every one.
    fn compare(&self, samples: &[i16], sample_rate: u32) -> Option<usize> {
        let kept = samples
            .len()
            .min((sample_rate as usize).saturating_mul(MAX_UPLOAD_SECS));
        let samples = at_line_rate(&samples[..kept], sample_rate)?;
        let upload = Contour::of(&samples)?;
        let scores: Vec<(f32, usize)> = self
            .lines
            .iter()
            .enumerate()
            .filter_map(|(index, line)| Some((upload.best_match(&line.contour)?, index)))
            .collect();
        let (best, line) = scores.iter().copied().max_by(|a, b| a.0.total_cmp(&b.0))?;
        let text = &self.lines[line].text;
        // A line that says these words and more is no rival: an upload that stops where the
        // caller paused sounds like both, and says only what it holds.
        let runner_up = scores
            .iter()
            .filter(|(_, other)| !self.lines[*other].text.contains(text.as_str()))
            .map(|(score, _)| *score)
            .fold(f32::NEG_INFINITY, f32::max);
        (best >= ACCEPT_SCORE && best - runner_up >= MIN_MARGIN).then_some(line)
    }
}

/// The dedupe key of an offered line: its text and every sample.
fn offer_key(text: &str, samples: &[i16]) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    samples.hash(&mut hasher);
    hasher.finish()
}

/// `samples` at 8 kHz; `None` when the rate cannot be converted.
fn at_line_rate(samples: &[i16], sample_rate: u32) -> Option<Cow<'_, [i16]>> {
    if sample_rate == SAMPLE_RATE {
        return Some(Cow::Borrowed(samples));
    }
    let mut resampler = StreamResampler::new(sample_rate, SAMPLE_RATE).ok()?;
    let mut out = Vec::with_capacity(resampler.output_len_hint(samples.len()) + FRAME_SAMPLES);
    resampler.process(samples, &mut out);
    resampler.flush(&mut out);
    Some(Cow::Owned(out))
}

/// Loudness and tilt per 20 ms frame, with the frames where speech starts and ends.
#[derive(Debug, Clone)]
struct Contour {
    loudness: Vec<f32>,
    tilt: Vec<f32>,
    /// From the first speech frame to the last, inclusive of both.
    speech: Range<usize>,
}

impl Contour {
    /// The contour of 8 kHz audio; `None` when it holds too little speech to recognise.
    fn of(samples: &[i16]) -> Option<Self> {
        let frames = samples.len() / FRAME_SAMPLES;
        let mut loudness = Vec::with_capacity(frames);
        let mut tilt = Vec::with_capacity(frames);
        let mut previous = samples.first().map_or(0.0, |s| f64::from(*s));
        for frame in samples.chunks_exact(FRAME_SAMPLES) {
            let (mut energy, mut change) = (0.0f64, 0.0f64);
            for &sample in frame {
                let sample = f64::from(sample);
                energy += sample * sample;
                change += (sample - previous) * (sample - previous);
                previous = sample;
            }
            // One unit of power per sample keeps digital silence finite, at 0 dB either way.
            let unit = FRAME_SAMPLES as f64;
            loudness.push(decibels(energy / unit + 1.0));
            tilt.push(decibels((change + unit) / (energy + unit)));
        }
        let peak = loudness.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if peak < MIN_PEAK_DB {
            return None;
        }
        let is_speech = |db: f32| db >= peak - SPEECH_WITHIN_DB;
        let first = loudness.iter().position(|db| is_speech(*db))?;
        let last = loudness.iter().rposition(|db| is_speech(*db))?;
        if last + 1 - first < MIN_SPEECH_FRAMES {
            return None;
        }
        // Outside speech the tilt is the noise's, not the talker's: every such frame gets the
        // speech's mean instead, so pauses compare as pauses whatever the line noise.
        let speech_tilts: Vec<f32> = (0..frames)
            .filter(|i| is_speech(loudness[*i]))
            .map(|i| tilt[i])
            .collect();
        let mean_tilt = speech_tilts.iter().sum::<f32>() / speech_tilts.len().max(1) as f32;
        for (db, tilt) in loudness.iter_mut().zip(tilt.iter_mut()) {
            if !is_speech(*db) {
                *tilt = mean_tilt;
            }
            *db = db.max(peak - LOUDNESS_RANGE_DB);
        }
        Some(Self {
            loudness,
            tilt,
            speech: first..last + 1,
        })
    }

    fn len(&self) -> usize {
        self.loudness.len()
    }

    /// How well `line` explains this upload, at its best alignment: the mean correlation of
    /// loudness and tilt, less a penalty for the share of the line's speech not heard. `None`
    /// when the line cannot cover enough of this upload's speech at any alignment.
    fn best_match(&self, line: &Contour) -> Option<f32> {
        let (upload_len, line_len) = (self.len() as isize, line.len() as isize);
        let speech = (self.speech.start as isize, self.speech.end as isize);
        let needed = (SPEECH_COVERED * (speech.1 - speech.0) as f32).ceil() as isize;
        let line_speech = line.speech.len().max(1) as f32;
        // At offset k, line frame j lies on upload frame j + k; these are the offsets where the
        // line overlaps at least `needed` of the upload's speech frames.
        let offsets = (speech.0 + needed - line_len)..=(speech.1 - needed);
        let mut best: Option<f32> = None;
        for offset in offsets {
            let from = offset.max(0);
            let to = (offset + line_len).min(upload_len);
            if to - from < MIN_SPEECH_FRAMES as isize {
                continue;
            }
            let upload_frames = from as usize..to as usize;
            let line_frames = (from - offset) as usize..(to - offset) as usize;
            let heard = overlap(&line_frames, &line.speech) as f32 / line_speech;
            let correlation = (pearson(
                &self.loudness[upload_frames.clone()],
                &line.loudness[line_frames.clone()],
            ) + pearson(&self.tilt[upload_frames], &line.tilt[line_frames]))
                / 2.0;
            let score = correlation - UNHEARD_PENALTY * (1.0 - heard);
            best = Some(best.map_or(score, |b| b.max(score)));
        }
        best
    }
}

fn decibels(power: f64) -> f32 {
    (10.0 * power.log10()) as f32
}

fn overlap(a: &Range<usize>, b: &Range<usize>) -> usize {
    a.end.min(b.end).saturating_sub(a.start.max(b.start))
}

/// The Pearson correlation of two equally long series; 0 when either is flat.
fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    // Sums in f64: contours sit around 60 dB, and in f32 the squares would swamp the variance.
    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        sa += x;
        sb += y;
        saa += x * x;
        sbb += y * y;
        sab += x * y;
    }
    let n = n as f64;
    let covariance = sab - sa * sb / n;
    let variance_a = saa - sa * sa / n;
    let variance_b = sbb - sb * sb / n;
    // A flat contour (steady noise, a held tone) resembles nothing.
    const FLAT: f64 = 1e-3;
    if variance_a <= FLAT * n || variance_b <= FLAT * n {
        return 0.0;
    }
    (covariance / (variance_a * variance_b).sqrt()) as f32
}

#[cfg(test)]
mod tests;
