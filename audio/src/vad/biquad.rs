//! The band-pass filter that splits a frame into the classifier's sub-bands.

/// Second-order IIR section, transposed direct form II.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Biquad {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
    z1: f32,
    z2: f32,
}

impl Biquad {
    /// Constant 0 dB peak-gain band-pass (audio EQ cookbook) spanning `low..high` Hz.
    pub(super) fn band_pass(sample_rate: f32, low: f32, high: f32) -> Self {
        let nyquist_guard = 0.45 * sample_rate;
        let high = high.min(nyquist_guard);
        let centre = (low * high).sqrt();
        let q = centre / (high - low);
        let w0 = 2.0 * std::f32::consts::PI * centre / sample_rate;
        let alpha = w0.sin() / (2.0 * q);
        let a0 = 1.0 + alpha;
        Self {
            b0: alpha / a0,
            b1: 0.0,
            b2: -alpha / a0,
            a1: -2.0 * w0.cos() / a0,
            a2: (1.0 - alpha) / a0,
            z1: 0.0,
            z2: 0.0,
        }
    }

    #[inline]
    pub(super) fn process(&mut self, x: f32) -> f32 {
        let y = self.b0 * x + self.z1;
        self.z1 = self.b1 * x - self.a1 * y + self.z2;
        self.z2 = self.b2 * x - self.a2 * y;
        y
    }

    /// Zeroes a decayed state: subnormal floats after digital silence are very slow on x86.
    pub(super) fn flush_tiny_state(&mut self) {
        const TINY: f32 = 1e-20;
        if self.z1.abs() < TINY {
            self.z1 = 0.0;
        }
        if self.z2.abs() < TINY {
            self.z2 = 0.0;
        }
    }

    pub(super) fn clear(&mut self) {
        self.z1 = 0.0;
        self.z2 = 0.0;
    }
}
