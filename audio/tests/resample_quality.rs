//! Resampler quality against reference signals: in-band sines must come out as the ideal sine at
//! the output rate (after the declared delay), out-of-band tones must not alias into the band.

use std::f64::consts::PI;

use sicha_audio::resample::StreamResampler;

/// Half of full scale, so the i16 output has headroom and ~92 dB of quantisation SNR.
const AMPLITUDE: f64 = 0.5 * 32768.0;
const PAIRS: [(u32, u32); 6] = [
    (8_000, 16_000),
    (16_000, 8_000),
    (24_000, 8_000),
    (22_050, 8_000),
    (48_000, 8_000),
    (8_000, 48_000),
];
const IN_BAND_HZ: [f64; 6] = [300.0, 700.0, 1000.0, 2000.0, 3000.0, 3400.0];

fn sine(rate: u32, hz: f64, seconds: f64) -> Vec<i16> {
    let len = (f64::from(rate) * seconds) as usize;
    (0..len)
        .map(|n| (AMPLITUDE * (2.0 * PI * hz * n as f64 / f64::from(rate)).sin()).round() as i16)
        .collect()
}

fn resample_all(resampler: &mut StreamResampler, input: &[i16]) -> Vec<i16> {
    let mut out = Vec::new();
    resampler.process(input, &mut out);
    resampler.flush(&mut out);
    out
}

/// SNR of `output` against the ideal sine delayed by the declared delay, skipping `edge` samples
/// at each end where the stream starts and stops.
fn snr_db(output: &[i16], rate: u32, hz: f64, delay: usize, edge: usize) -> f64 {
    let (mut signal, mut noise) = (0.0, 0.0);
    for (n, &sample) in output
        .iter()
        .enumerate()
        .take(output.len() - edge)
        .skip(delay + edge)
    {
        let ideal = AMPLITUDE * (2.0 * PI * hz * (n - delay) as f64 / f64::from(rate)).sin();
        signal += ideal * ideal;
        noise += (f64::from(sample) - ideal).powi(2);
    }
    10.0 * (signal / noise).log10()
}

/// Output RMS relative to the input tone's RMS, in dB, away from the edges.
fn level_db(output: &[i16], edge: usize) -> f64 {
    let middle = &output[edge..output.len() - edge];
    let power = middle.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / middle.len() as f64;
    10.0 * (power / (AMPLITUDE * AMPLITUDE / 2.0)).log10()
}

#[test]
fn in_band_sines_survive_with_70_db_snr() {
    let mut failures = Vec::new();
    for (from, to) in PAIRS {
        for hz in IN_BAND_HZ {
            let mut resampler = StreamResampler::new(from, to).unwrap();
            let output = resample_all(&mut resampler, &sine(from, hz, 1.0));
            let edge = 2 * resampler.block_out();
            let snr = snr_db(&output, to, hz, resampler.delay_samples(), edge);
            println!("{from:>5} -> {to:>5}  {hz:>6} Hz  SNR {snr:6.1} dB");
            if snr < 70.0 {
                failures.push(format!("{from}->{to} {hz} Hz: {snr:.1} dB"));
            }
        }
    }
    assert!(failures.is_empty(), "SNR below 70 dB: {failures:?}");
}

#[test]
fn tones_above_output_nyquist_are_attenuated_60_db() {
    let cases: [(u32, u32, f64); 7] = [
        (24_000, 8_000, 6_000.0),
        (24_000, 8_000, 4_600.0),
        (16_000, 8_000, 5_000.0),
        (16_000, 8_000, 4_600.0),
        (48_000, 8_000, 6_000.0),
        (48_000, 8_000, 15_000.0),
        (22_050, 8_000, 6_000.0),
    ];
    let mut failures = Vec::new();
    for (from, to, hz) in cases {
        let mut resampler = StreamResampler::new(from, to).unwrap();
        let output = resample_all(&mut resampler, &sine(from, hz, 1.0));
        let level = level_db(
            &output,
            2 * resampler.block_out() + resampler.delay_samples(),
        );
        println!("{from:>5} -> {to:>5}  {hz:>6} Hz  level {level:6.1} dB");
        if level > -60.0 {
            failures.push(format!("{from}->{to} {hz} Hz: {level:.1} dB"));
        }
    }
    assert!(failures.is_empty(), "aliasing above -60 dB: {failures:?}");
}

#[test]
fn level_measurement_sees_an_in_band_tone_at_full_level() {
    // Guards the alias measurement: a tone that should pass must read close to 0 dB.
    let mut resampler = StreamResampler::new(24_000, 8_000).unwrap();
    let output = resample_all(&mut resampler, &sine(24_000, 1000.0, 0.5));
    let level = level_db(
        &output,
        2 * resampler.block_out() + resampler.delay_samples(),
    );
    assert!(level.abs() < 0.1, "level {level} dB");
}

#[test]
fn measurement_detects_a_wrong_delay() {
    // Guards the SNR measurement itself: one sample of misalignment must ruin it.
    let mut resampler = StreamResampler::new(24_000, 8_000).unwrap();
    let output = resample_all(&mut resampler, &sine(24_000, 1000.0, 0.5));
    let edge = 2 * resampler.block_out();
    assert!(snr_db(&output, 8_000, 1000.0, resampler.delay_samples() + 1, edge) < 20.0);
}
