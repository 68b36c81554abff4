//! μ-law against an independent transcription of the ITU-T G.191 `ulaw_compress` algorithm.
//!
//! The reference below is written from the ITU description (segment search on the biased
//! magnitude), deliberately in a different shape from the crate's table builder, so a shared
//! mistake is unlikely.

use sicha_audio::mulaw;

/// ITU-T G.191 `ulaw_compress` for a single sample.
fn itu_ulaw_compress(sample: i16) -> u8 {
    let linear = i32::from(sample);
    // 14-bit right-justified magnitude, one's complement for negatives, plus the 33 bias.
    let mut absno = if linear < 0 {
        ((!linear) >> 2) + 33
    } else {
        (linear >> 2) + 33
    };
    if absno > 0x1FFF {
        absno = 0x1FFF;
    }
    let mut i = absno >> 6;
    let mut segno = 1;
    while i != 0 {
        segno += 1;
        i >>= 1;
    }
    let high_nibble = 0x0008 - segno;
    let low_nibble = 0x000F - ((absno >> segno) & 0x000F);
    let mut code = (high_nibble << 4) | low_nibble;
    if linear >= 0 {
        code |= 0x0080;
    }
    code as u8
}

/// ITU-T G.191 `ulaw_expand` for a single code.
fn itu_ulaw_expand(code: u8) -> i16 {
    let sign = if code < 0x80 { -1 } else { 1 };
    let inverted = !i32::from(code);
    let exponent = (inverted >> 4) & 0x07;
    let segment = exponent + 1;
    let mantissa = inverted & 0x0F;
    let step = 4 << segment;
    (sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33)) as i16
}

#[test]
fn encoder_matches_itu_reference_for_all_inputs() {
    let mut mismatches = Vec::new();
    for sample in i16::MIN..=i16::MAX {
        let expected = itu_ulaw_compress(sample);
        let actual = mulaw::encode(sample);
        if expected != actual {
            mismatches.push((sample, expected, actual));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first: {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}

#[test]
fn decoder_matches_itu_reference_for_all_codes() {
    for code in 0..=u8::MAX {
        assert_eq!(
            mulaw::decode(code),
            itu_ulaw_expand(code),
            "code {code:#04x}"
        );
    }
}

#[test]
fn reference_reproduces_itu_sample_points() {
    // Guards the reference itself: if it drifted, the full sweep above would prove nothing.
    let points: [(i16, u8); 7] = [
        (0, 0xFF),
        (8, 0xFE),
        (100, 0xF2),
        (1000, 0xCE),
        (-1000, 0x4E),
        (32767, 0x80),
        (-32768, 0x00),
    ];
    for (sample, code) in points {
        assert_eq!(itu_ulaw_compress(sample), code, "reference at {sample}");
        assert_eq!(mulaw::encode(sample), code, "crate at {sample}");
    }
}

#[test]
fn decoder_hits_g711_table_anchors() {
    assert_eq!(mulaw::decode(0x00), -32124);
    assert_eq!(mulaw::decode(0x80), 32124);
    assert_eq!(mulaw::decode(0xFF), 0);
    assert_eq!(mulaw::decode(0x7F), 0);
    assert_eq!(mulaw::decode(0xFE), 8);
    assert_eq!(mulaw::decode(0xF0), 120);
    assert_eq!(mulaw::decode(0xCE), 988);
}

/// Quantisation step of the segment a code belongs to, in 16-bit units.
fn step_of(code: u8) -> i32 {
    let exponent = i32::from((!code >> 4) & 0x07);
    8 << exponent
}

#[test]
fn round_trip_error_is_within_half_a_step_of_its_segment() {
    // Beyond the top decision level the coder saturates at ±32124; check clipping separately.
    let top = i32::from(mulaw::decode(0x80)) + step_of(0x80) / 2;
    let mut worst_by_segment = [0i32; 8];
    for sample in i16::MIN..=i16::MAX {
        let linear = i32::from(sample);
        let code = mulaw::encode(sample);
        let error = (i32::from(mulaw::decode(code)) - linear).abs();
        if linear.abs() >= top {
            assert_eq!(mulaw::decode(code).abs(), 32124, "saturation at {sample}");
            continue;
        }
        // The ITU coder truncates to 14 bits first, which can add up to 3 LSBs beyond half a step.
        let bound = step_of(code) / 2 + 3;
        assert!(error <= bound, "sample {sample}: error {error} > {bound}");
        let segment = usize::from((!code >> 4) & 0x07);
        worst_by_segment[segment] = worst_by_segment[segment].max(error);
    }
    // Every segment is actually exercised and its worst error is a real half step, not zero.
    for (segment, &worst) in worst_by_segment.iter().enumerate() {
        assert!(
            worst >= (8 << segment) / 2,
            "segment {segment} worst error {worst}"
        );
    }
}
