//! Streaming fixed-ratio resampling of 16-bit mono PCM (TTS 24 kHz / 22.05 kHz / 48 kHz down to
//! the 8 kHz line, 8 kHz up to 16 kHz for speech-to-text), over rubato's FFT resampler.
//!
//! Why FFT: every ratio here is fixed, and one FFT block per call is far cheaper than a
//! polyphase sinc interpolator of the same quality (a long filter costs nothing extra in the
//! frequency domain). The block length on the lower-rate side sets both the anti-alias cutoff and
//! the delay; [`LOW_RATE_BLOCK`] is chosen to keep the 300–3400 Hz telephone band flat.
//!
//! Buffers: the rubato resampler, one input staging block and one output block (both `f32`) are
//! allocated in [`StreamResampler::new`] and reused. Input is staged until a whole block is
//! present, so output depends only on the signal, never on how it was chunked. The per-chunk
//! path only appends to the caller's `Vec`, which does not reallocate once it has capacity
//! (see [`StreamResampler::output_len_hint`]).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Block length, in samples, on the lower-rate side of the conversion (20 ms at 8 kHz).
/// Longer blocks sharpen the anti-alias filter but add delay and buffering. Measured at 3400 Hz
/// (the top of the telephone band): 160 gives 77 dB SNR, 128 only 31 dB, so 160 it is.
pub const LOW_RATE_BLOCK: usize = 160;

/// Largest FFT block accepted; awkward rate pairs (tiny common divisor) would exceed it.
const MAX_BLOCK: usize = 1 << 15;

/// Why a resampler could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("unsupported resampling {from_hz} Hz -> {to_hz} Hz: {reason}")]
    UnsupportedRates {
        from_hz: u32,
        to_hz: u32,
        reason: &'static str,
    },
    #[error("building resampler: {0}")]
    Construction(#[from] rubato::ResamplerConstructionError),
}

/// A fixed-ratio mono resampler that accepts input in chunks of any size.
pub struct StreamResampler {
    inner: Fft<f32>,
    from_hz: u32,
    to_hz: u32,
    block_in: usize,
    block_out: usize,
    /// Input collected towards the next block; the first `staged` entries are valid.
    staging: Box<[f32]>,
    staged: usize,
    /// One block of output, converted to `i16` and appended to the caller's buffer.
    block_output: Box<[f32]>,
    /// Counters since construction or the last reset, used to size the flushed tail.
    input_total: u64,
    output_total: u64,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("from_hz", &self.from_hz)
            .field("to_hz", &self.to_hz)
            .field("block_in", &self.block_in)
            .field("block_out", &self.block_out)
            .field("staged", &self.staged)
            .finish_non_exhaustive()
    }
}

impl StreamResampler {
    /// A resampler from `from_hz` to `to_hz`.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, ResampleError> {
        let unsupported = |reason| ResampleError::UnsupportedRates {
            from_hz,
            to_hz,
            reason,
        };
        if from_hz == 0 || to_hz == 0 {
            return Err(unsupported("rates must be positive"));
        }
        let (from, to) = (from_hz as usize, to_hz as usize);
        let divisor = gcd(from, to);
        let (unit_in, unit_out) = (from / divisor, to / divisor);
        // Whole units so that the lower-rate side reaches at least LOW_RATE_BLOCK samples.
        let mut units = LOW_RATE_BLOCK.div_ceil(unit_in.min(unit_out));
        // rubato centres its filter at block_in / 2 (integer division): with an odd block the
        // true delay is a fraction of an output sample off the declared one, so keep both even.
        if (units * unit_in) % 2 == 1 || (units * unit_out) % 2 == 1 {
            units *= 2;
        }
        let (block_in, block_out) = (units * unit_in, units * unit_out);
        if block_in.max(block_out) > MAX_BLOCK {
            return Err(unsupported("rates share too small a common divisor"));
        }
        let inner = Fft::<f32>::new(from, to, block_in, 1, FixedSync::Both)?;
        debug_assert_eq!(
            (inner.input_frames_next(), inner.output_frames_next()),
            (block_in, block_out)
        );
        Ok(Self {
            inner,
            from_hz,
            to_hz,
            block_in,
            block_out,
            staging: vec![0.0; block_in].into_boxed_slice(),
            staged: 0,
            block_output: vec![0.0; block_out].into_boxed_slice(),
            input_total: 0,
            output_total: 0,
        })
    }

    pub fn from_hz(&self) -> u32 {
        self.from_hz
    }

    pub fn to_hz(&self) -> u32 {
        self.to_hz
    }

    /// Resamples `input` and appends every completed output block to `out`.
    ///
    /// Output lags input by up to one block of buffering plus [`Self::delay_samples`].
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        self.input_total += input.len() as u64;
        let mut rest = input;
        while !rest.is_empty() {
            let take = (self.block_in - self.staged).min(rest.len());
            for (slot, &sample) in self.staging[self.staged..self.staged + take]
                .iter_mut()
                .zip(rest)
            {
                *slot = f32::from(sample) / 32768.0;
            }
            self.staged += take;
            rest = &rest[take..];
            if self.staged == self.block_in {
                self.run_block(out, self.block_out);
            }
        }
    }

    /// Drains the tail: pads with silence until every input sample (plus the declared delay)
    /// has come out, appends at most `delay_samples() + block_out` samples, then resets.
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        if self.input_total == 0 {
            // Nothing went in, so nothing is owed, not even the delay's worth of silence.
            return;
        }
        // Output owed: the delay, then ceil(input * to / from) samples of signal.
        let signal = (self.input_total * u64::from(self.to_hz)).div_ceil(u64::from(self.from_hz));
        let owed = self.delay_samples() as u64 + signal;
        while self.output_total < owed {
            self.staging[self.staged..].fill(0.0);
            let remaining = usize::try_from(owed - self.output_total).unwrap_or(usize::MAX);
            self.run_block(out, remaining.min(self.block_out));
        }
        self.reset();
    }

    /// Delay of the filter, in output samples: an input event at output time `t` appears at
    /// `t + delay_samples()` in the output stream.
    pub fn delay_samples(&self) -> usize {
        self.inner.output_delay()
    }

    /// Forgets all state, as if newly constructed (e.g. when a TTS stream is cancelled).
    pub fn reset(&mut self) {
        self.inner.reset();
        self.staged = 0;
        self.input_total = 0;
        self.output_total = 0;
    }

    /// Upper bound on the samples one [`Self::process`] call with `input_len` samples appends,
    /// whatever is already staged: reserve this in `out` to keep the call allocation-free.
    pub fn output_len_hint(&self, input_len: usize) -> usize {
        input_len.div_ceil(self.block_in) * self.block_out
    }

    /// Input samples consumed per internal block.
    pub fn block_in(&self) -> usize {
        self.block_in
    }

    /// Output samples produced per internal block.
    pub fn block_out(&self) -> usize {
        self.block_out
    }

    /// Runs the staged block through the filter and appends its first `keep` samples.
    fn run_block(&mut self, out: &mut Vec<i16>, keep: usize) {
        let input = InterleavedSlice::new(&self.staging[..], 1, self.block_in)
            .expect("staging holds exactly one input block");
        let mut output = InterleavedSlice::new_mut(&mut self.block_output[..], 1, self.block_out)
            .expect("output holds exactly one block");
        let (consumed, produced) = self
            .inner
            .process_into_buffer(&input, &mut output, None)
            .expect("buffers are sized to the resampler's fixed block");
        debug_assert_eq!((consumed, produced), (self.block_in, self.block_out));
        out.extend(self.block_output[..keep].iter().map(|&value| to_i16(value)));
        self.output_total += keep as u64;
        self.staged = 0;
    }
}

/// Rounds half away from zero by adding a half and truncating: `f32::round` is a library call per
/// sample on a baseline x86-64 build. (The two differ only within one float step below a half,
/// by one least significant bit.)
fn to_i16(value: f32) -> i16 {
    let scaled = value * 32768.0;
    let rounded = (scaled + 0.5f32.copysign(scaled)) as i32;
    rounded.clamp(-32768, 32767) as i16
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiser_rounds_halves_away_from_zero_and_saturates() {
        for halves in -65_540i32..=65_540 {
            let scaled = halves as f32 / 2.0;
            let expected = scaled.round().clamp(-32768.0, 32767.0) as i16;
            assert_eq!(to_i16(scaled / 32768.0), expected, "{scaled}");
        }
        assert_eq!(
            (to_i16(1.0), to_i16(-1.5), to_i16(f32::NAN)),
            (32767, -32768, 0)
        );
    }

    #[test]
    fn block_sizes_follow_the_lower_rate() {
        let cases = [
            (24_000, 8_000, 480, 160),
            (8_000, 16_000, 160, 320),
            (22_050, 8_000, 882, 320),
            (8_000, 48_000, 160, 960),
        ];
        for (from, to, block_in, block_out) in cases {
            let resampler = StreamResampler::new(from, to).unwrap();
            assert_eq!(
                (resampler.block_in(), resampler.block_out()),
                (block_in, block_out),
                "{from}->{to}"
            );
        }
    }

    #[test]
    fn rejects_zero_and_awkward_rates() {
        assert!(matches!(
            StreamResampler::new(0, 8000),
            Err(ResampleError::UnsupportedRates { .. })
        ));
        assert!(matches!(
            StreamResampler::new(44_101, 8000),
            Err(ResampleError::UnsupportedRates { .. })
        ));
    }

    #[test]
    fn flush_emits_delay_plus_scaled_length_then_resets() {
        let mut resampler = StreamResampler::new(24_000, 8_000).unwrap();
        let mut out = Vec::new();
        resampler.process(&[1000; 1000], &mut out);
        assert_eq!(out.len(), 320);
        resampler.flush(&mut out);
        assert_eq!(out.len(), resampler.delay_samples() + 334);
        let mut again = Vec::new();
        resampler.process(&[1000; 1000], &mut again);
        assert_eq!(again[..], out[..320]);
    }

    #[test]
    fn flushing_an_unused_resampler_emits_nothing() {
        let mut resampler = StreamResampler::new(8_000, 16_000).unwrap();
        let mut out = Vec::new();
        resampler.flush(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn hint_covers_worst_case_staging() {
        let mut resampler = StreamResampler::new(24_000, 8_000).unwrap();
        let mut out = Vec::new();
        resampler.process(&[0; 479], &mut out);
        let hint = resampler.output_len_hint(1);
        resampler.process(&[0; 1], &mut out);
        assert!(out.len() <= hint && hint == 160);
    }
}
