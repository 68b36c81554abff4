//! Streaming must not depend on chunking: any split of the input gives the one-shot output.

use sicha_audio::resample::StreamResampler;

/// Small deterministic generator (xorshift64*), so failures reproduce without a dependency.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Speech-like test signal: a few tones plus noise, at roughly half full scale.
fn signal(len: usize, rng: &mut Xorshift) -> Vec<i16> {
    (0..len)
        .map(|n| {
            let t = n as f64;
            let tones =
                6000.0 * (t * 0.031).sin() + 4000.0 * (t * 0.173).sin() + 2000.0 * (t * 0.9).sin();
            let noise = (rng.below(2001) as f64) - 1000.0;
            (tones + noise) as i16
        })
        .collect()
}

fn run(from: u32, to: u32, input: &[i16], chunk_sizes: &mut dyn FnMut() -> usize) -> Vec<i16> {
    let mut resampler = StreamResampler::new(from, to).unwrap();
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let take = chunk_sizes().min(rest.len());
        resampler.process(&rest[..take], &mut out);
        rest = &rest[take..];
    }
    resampler.flush(&mut out);
    out
}

#[test]
fn random_chunkings_match_one_shot_output() {
    let pairs = [
        (8_000, 16_000),
        (16_000, 8_000),
        (24_000, 8_000),
        (22_050, 8_000),
        (48_000, 8_000),
        (8_000, 48_000),
    ];
    let mut rng = Xorshift(0x5EED_CAFE_F00D_1234);
    for (from, to) in pairs {
        let input = signal(from as usize / 2 + 37, &mut rng);
        let one_shot = run(from, to, &input, &mut || usize::MAX);
        assert!(
            one_shot.iter().any(|&s| s.abs() > 1000),
            "{from}->{to}: output is silent"
        );
        for max_chunk in [1, 7, 160, 481, 5000] {
            let mut chunk_rng = Xorshift(rng.next() | 1);
            let chunked = run(from, to, &input, &mut || 1 + chunk_rng.below(max_chunk));
            assert_eq!(
                chunked, one_shot,
                "{from}->{to} with chunks up to {max_chunk}"
            );
        }
    }
}

#[test]
fn reset_mid_stream_starts_over() {
    let mut rng = Xorshift(42);
    let input = signal(4000, &mut rng);
    let fresh = run(24_000, 8_000, &input, &mut || 480);
    let mut resampler = StreamResampler::new(24_000, 8_000).unwrap();
    let mut discarded = Vec::new();
    resampler.process(&signal(1234, &mut rng), &mut discarded);
    resampler.reset();
    let mut out = Vec::new();
    resampler.process(&input, &mut out);
    resampler.flush(&mut out);
    assert_eq!(out, fresh);
}

#[test]
fn output_length_is_delay_plus_ceiling_of_scaled_input() {
    for (from, to, len) in [
        (24_000u32, 8_000u32, 1001usize),
        (8_000, 48_000, 333),
        (22_050, 8_000, 2205),
    ] {
        let mut resampler = StreamResampler::new(from, to).unwrap();
        let delay = resampler.delay_samples();
        let mut out = Vec::new();
        resampler.process(&vec![0; len], &mut out);
        resampler.flush(&mut out);
        let expected = delay + (len as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
        assert_eq!(out.len(), expected, "{from}->{to}");
    }
}
