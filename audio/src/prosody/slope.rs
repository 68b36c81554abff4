//! Robust trends over a short track: the Theil–Sen slope (the median of the slopes between every
//! pair of points), and octave errors put back before it is taken.
//!
//! A pitch tracker now and then reports half or double the true F0 for a frame; one such point at
//! the end of a least-squares fit would flip the verdict, while the median of pairwise slopes
//! barely moves.

/// A point of a track: time in seconds, value in the track's unit.
pub(super) type Point = (f32, f32);

/// The median of the pairwise slopes of `points` (value units per second); `None` for fewer than
/// two points at distinct times. Quadratic in the number of points, which is a few dozen.
pub(super) fn theil_sen(points: &[Point]) -> Option<f32> {
    let mut slopes = Vec::with_capacity(points.len() * points.len().saturating_sub(1) / 2);
    for (i, &(t0, v0)) in points.iter().enumerate() {
        for &(t1, v1) in &points[i + 1..] {
            if t1 != t0 {
                slopes.push((v1 - v0) / (t1 - t0));
            }
        }
    }
    median(&mut slopes)
}

/// Semitones away from the track's median beyond which a point is suspect: more than a talker's
/// pitch moves within the few hundred milliseconds of a track.
const OCTAVE_SUSPECT_ST: f32 = 6.0;

/// How near the median a suspect point must land once moved by an octave to be kept.
const OCTAVE_FOLDED_ST: f32 = 4.0;

/// Moves each point that sits about an octave off the track's median back by an octave (values
/// in semitones); points that are still far off after that are dropped.
pub(super) fn octave_corrected(points: &mut Vec<Point>) {
    let mut values: Vec<f32> = points.iter().map(|&(_, value)| value).collect();
    let Some(centre) = median(&mut values) else {
        return;
    };
    points.retain_mut(|(_, value)| {
        let offset = *value - centre;
        if offset.abs() <= OCTAVE_SUSPECT_ST {
            return true;
        }
        *value -= 12.0 * (offset / 12.0).round();
        (*value - centre).abs() <= OCTAVE_FOLDED_ST
    });
}

/// The median (the mean of the middle two for an even count); `None` when empty.
fn median(values: &mut [f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f32::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        0.5 * (values[middle - 1] + values[middle])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_is_exact() {
        let points: Vec<Point> = (0..20)
            .map(|i| (i as f32 * 0.01, 3.0 - 0.2 * i as f32))
            .collect();
        let slope = theil_sen(&points).expect("slope");
        assert!((slope + 20.0).abs() < 1e-3, "{slope}");
    }

    #[test]
    fn a_few_wild_points_do_not_move_the_slope() {
        let mut points: Vec<Point> = (0..20).map(|i| (i as f32 * 0.01, 0.1 * i as f32)).collect();
        points[19].1 = -12.0;
        points[7].1 = 30.0;
        let slope = theil_sen(&points).expect("slope");
        assert!((slope - 10.0).abs() < 1.0, "{slope}");
    }

    #[test]
    fn too_few_points_have_no_slope() {
        assert_eq!(theil_sen(&[]), None);
        assert_eq!(theil_sen(&[(0.0, 1.0)]), None);
        assert_eq!(theil_sen(&[(0.5, 1.0), (0.5, 2.0)]), None);
    }

    #[test]
    fn octave_jumps_are_folded_back_and_strays_dropped() {
        let mut points = vec![
            (0.00, 10.0),
            (0.01, 10.2),
            (0.02, -1.6), // an octave low
            (0.03, 10.4),
            (0.04, 22.5), // an octave high
            (0.05, 10.6),
            (0.06, 3.0), // neither
        ];
        octave_corrected(&mut points);
        let values: Vec<f32> = points.iter().map(|&(_, v)| v).collect();
        assert_eq!(values.len(), 6);
        for (value, expected) in values.iter().zip([10.0, 10.2, 10.4, 10.4, 10.5, 10.6]) {
            assert!((value - expected).abs() < 1e-4, "{values:?}");
        }
    }
}
