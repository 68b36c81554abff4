//! G.711 μ-law, bit-exact with the ITU-T G.191 reference (`ulaw_compress` / `ulaw_expand`).
//!
//! Both directions are single table look-ups. The tables are `static`s computed at compile time
//! by `const fn`s, so nothing is allocated or initialised at run time: a 256-entry decode table
//! and a 16,384-entry encode table indexed by `sample >> 2`. The ITU encoder drops the two low
//! bits of the 16-bit sample before anything else (14-bit input), so that index loses nothing.

/// The μ-law code of a zero sample; a line of these is digital silence.
pub const SILENCE: u8 = 0xFF;

/// Bias between the μ-law and A-law decision thresholds, in 14-bit units (ITU-T G.191).
const BIAS_14BIT: i32 = 33;
/// Largest biased 14-bit magnitude the segment logic accepts.
const MAX_BIASED: i32 = 0x1FFF;

static DECODE_TABLE: [i16; 256] = build_decode_table();
static ENCODE_TABLE: [u8; 1 << 14] = build_encode_table();

/// Expands one μ-law code to a 16-bit linear sample.
#[inline]
pub fn decode(code: u8) -> i16 {
    DECODE_TABLE[usize::from(code)]
}

/// Compresses one 16-bit linear sample to its μ-law code.
#[inline]
pub fn encode(sample: i16) -> u8 {
    // Reinterpreting as u16 and shifting keeps exactly the 14 significant bits the ITU coder uses.
    ENCODE_TABLE[usize::from((sample as u16) >> 2)]
}

/// Decodes `codes` into `out`, one sample per code.
///
/// # Panics
/// If `codes` and `out` differ in length: a silent truncation would desynchronise audio.
pub fn decode_into(codes: &[u8], out: &mut [i16]) {
    assert_eq!(
        codes.len(),
        out.len(),
        "mulaw::decode_into: length mismatch"
    );
    for (sample, &code) in out.iter_mut().zip(codes) {
        *sample = decode(code);
    }
}

/// Encodes `samples` into `out`, one code per sample.
///
/// # Panics
/// If `samples` and `out` differ in length: a silent truncation would desynchronise audio.
pub fn encode_into(samples: &[i16], out: &mut [u8]) {
    assert_eq!(
        samples.len(),
        out.len(),
        "mulaw::encode_into: length mismatch"
    );
    for (code, &sample) in out.iter_mut().zip(samples) {
        *code = encode(sample);
    }
}

/// `ulaw_expand`: the inverted code gives segment and mantissa; the result is the middle of the
/// quantisation interval, minus the bias.
const fn expand(code: u8) -> i16 {
    let inverted = !code;
    let exponent = ((inverted >> 4) & 0x07) as i32;
    let mantissa = (inverted & 0x0F) as i32;
    let step = 4 << (exponent + 1);
    let magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * BIAS_14BIT;
    if code < 0x80 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// `ulaw_compress` for one 14-bit value (the sample arithmetically shifted right by 2).
const fn compress_14bit(shifted: i32) -> u8 {
    // One's complement for negatives, as the reference does: -1 maps to magnitude 0.
    let magnitude = if shifted < 0 { !shifted } else { shifted };
    let mut biased = magnitude + BIAS_14BIT;
    if biased > MAX_BIASED {
        biased = MAX_BIASED;
    }
    // Segment number = 1 + bit length of (biased >> 6); biased >> 6 fits in 7 bits.
    let segment = 1 + (32 - ((biased >> 6) as u32).leading_zeros()) as i32;
    let high_nibble = 8 - segment;
    let low_nibble = 0x0F - ((biased >> segment) & 0x0F);
    let code = ((high_nibble << 4) | low_nibble) as u8;
    if shifted >= 0 { code | 0x80 } else { code }
}

const fn build_decode_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = expand(code as u8);
        code += 1;
    }
    table
}

const fn build_encode_table() -> [u8; 1 << 14] {
    let mut table = [0u8; 1 << 14];
    let mut index = 0;
    while index < (1 << 14) {
        // Index is the u16 sample >> 2; sign-extend it back to the 14-bit signed value.
        let shifted = if index >= (1 << 13) {
            index as i32 - (1 << 14)
        } else {
            index as i32
        };
        table[index] = compress_14bit(shifted);
        index += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_round_trips_to_zero() {
        assert_eq!(encode(0), SILENCE);
        assert_eq!(decode(SILENCE), 0);
    }

    #[test]
    fn decode_is_odd_symmetric_about_the_sign_bit() {
        for code in 0u8..0x80 {
            assert_eq!(decode(code), -decode(code | 0x80), "code {code:#04x}");
        }
    }

    #[test]
    fn encode_is_monotonic_in_decoded_value() {
        let mut previous = i16::MIN;
        for sample in i16::MIN..=i16::MAX {
            let value = decode(encode(sample));
            assert!(value >= previous, "not monotonic at {sample}");
            previous = value;
        }
    }

    #[test]
    fn slice_helpers_match_scalar_functions() {
        let samples: Vec<i16> = (0..160).map(|i| (i * 409 - 32000) as i16).collect();
        let mut codes = vec![0u8; samples.len()];
        encode_into(&samples, &mut codes);
        let mut decoded = vec![0i16; codes.len()];
        decode_into(&codes, &mut decoded);
        for ((&sample, &code), &value) in samples.iter().zip(&codes).zip(&decoded) {
            assert_eq!(code, encode(sample));
            assert_eq!(value, decode(code));
        }
    }

    #[test]
    #[should_panic(expected = "length mismatch")]
    fn encode_into_rejects_unequal_lengths() {
        encode_into(&[0; 4], &mut [0; 3]);
    }
}
