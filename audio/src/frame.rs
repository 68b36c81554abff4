//! PCM frame constants and re-framing for Twilio Media Streams.
//!
//! Twilio sends and accepts μ-law 8 kHz mono in messages of any size (20 ms = 160 bytes is
//! observed, not promised). [`Reframer`] turns arbitrary chunks into fixed frames. Its only
//! buffer is allocated once in [`Reframer::new`]; whole frames inside an input chunk are handed
//! out as borrowed slices of that chunk, so the per-chunk path neither allocates nor copies
//! more than the partial frame at each edge.

/// Telephone sample rate of Twilio Media Streams.
pub const SAMPLE_RATE_8K: u32 = 8000;
/// Samples (and μ-law bytes) in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// Duration of one [`FRAME_SAMPLES`] frame, in milliseconds.
pub const FRAME_MILLIS: u32 = 20;

/// Number of samples a frame of `millis` milliseconds holds at `sample_rate`.
pub const fn samples_for_millis(sample_rate: u32, millis: u32) -> usize {
    (sample_rate as u64 * millis as u64 / 1000) as usize
}

/// Cuts a stream of arbitrarily sized chunks into frames of exactly `frame_len` samples.
///
/// Generic over the sample type so one implementation serves `i16` PCM and `u8` μ-law.
#[derive(Debug, Clone)]
pub struct Reframer<T: Copy> {
    /// Holds the incomplete frame carried between calls; `pending` entries are valid.
    partial: Box<[T]>,
    pending: usize,
}

impl<T: Copy + Default> Reframer<T> {
    /// A reframer for frames of `frame_len` samples.
    ///
    /// # Panics
    /// If `frame_len` is zero.
    pub fn new(frame_len: usize) -> Self {
        assert!(frame_len > 0, "Reframer frame length must be positive");
        Self {
            partial: vec![T::default(); frame_len].into_boxed_slice(),
            pending: 0,
        }
    }
}

impl<T: Copy> Reframer<T> {
    /// Length of every frame this reframer yields.
    pub fn frame_len(&self) -> usize {
        self.partial.len()
    }

    /// Samples held back waiting for the rest of their frame.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Appends `input` and calls `on_frame` for every frame it completes, in order.
    pub fn push(&mut self, mut input: &[T], mut on_frame: impl FnMut(&[T])) {
        let frame_len = self.frame_len();
        if self.pending > 0 {
            let take = (frame_len - self.pending).min(input.len());
            self.partial[self.pending..self.pending + take].copy_from_slice(&input[..take]);
            self.pending += take;
            input = &input[take..];
            if self.pending < frame_len {
                return;
            }
            on_frame(&self.partial);
            self.pending = 0;
        }
        let mut whole_frames = input.chunks_exact(frame_len);
        for frame in &mut whole_frames {
            on_frame(frame);
        }
        let rest = whole_frames.remainder();
        self.partial[..rest.len()].copy_from_slice(rest);
        self.pending = rest.len();
    }

    /// Emits the held-back tail, if any, padded with `pad` to a full frame.
    /// Returns whether a frame was emitted.
    pub fn flush_padded(&mut self, pad: T, mut on_frame: impl FnMut(&[T])) -> bool {
        if self.pending == 0 {
            return false;
        }
        self.partial[self.pending..].fill(pad);
        on_frame(&self.partial);
        self.pending = 0;
        true
    }

    /// Drops the held-back tail (e.g. on Twilio `clear` or barge-in).
    pub fn clear(&mut self) {
        self.pending = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(reframer: &mut Reframer<u16>, chunks: &[&[u16]]) -> Vec<Vec<u16>> {
        let mut frames = Vec::new();
        for chunk in chunks {
            reframer.push(chunk, |frame| frames.push(frame.to_vec()));
        }
        frames
    }

    #[test]
    fn constants_agree() {
        assert_eq!(
            samples_for_millis(SAMPLE_RATE_8K, FRAME_MILLIS),
            FRAME_SAMPLES
        );
        assert_eq!(samples_for_millis(22_050, 20), 441);
    }

    #[test]
    fn odd_chunk_sizes_yield_the_stream_in_order() {
        let stream: Vec<u16> = (0..1000).collect();
        let sizes = [1, 7, 159, 160, 161, 0, 3, 320, 2, 187];
        let mut chunks = Vec::new();
        let mut start = 0;
        for size in sizes {
            chunks.push(&stream[start..start + size]);
            start += size;
        }
        assert_eq!(start, 1000);
        let mut reframer = Reframer::new(FRAME_SAMPLES);
        let frames = frames_of(&mut reframer, &chunks);
        assert_eq!(frames.len(), 6);
        assert!(frames.iter().all(|f| f.len() == FRAME_SAMPLES));
        assert_eq!(frames.concat(), stream[..960].to_vec());
        assert_eq!(reframer.pending(), 40);
    }

    #[test]
    fn flush_pads_the_tail_and_resets() {
        let mut reframer = Reframer::new(4);
        frames_of(&mut reframer, &[&[1, 2, 3, 4, 5, 6]]);
        let mut flushed = Vec::new();
        assert!(reframer.flush_padded(0xFF, |f| flushed = f.to_vec()));
        assert_eq!(flushed, vec![5, 6, 0xFF, 0xFF]);
        assert_eq!(reframer.pending(), 0);
        assert!(!reframer.flush_padded(0xFF, |_| panic!("nothing pending")));
    }

    #[test]
    fn clear_discards_the_partial_frame() {
        let mut reframer = Reframer::new(3);
        let frames = frames_of(&mut reframer, &[&[9, 9], &[]]);
        assert!(frames.is_empty());
        reframer.clear();
        let frames = frames_of(&mut reframer, &[&[1, 2, 3]]);
        assert_eq!(frames, vec![vec![1, 2, 3]]);
    }

    #[test]
    fn serves_mulaw_bytes_too() {
        let mut reframer = Reframer::<u8>::new(FRAME_SAMPLES);
        let mut count = 0;
        reframer.push(&[0x7F; 500], |frame| {
            assert_eq!(frame.len(), FRAME_SAMPLES);
            count += 1;
        });
        assert_eq!(count, 3);
        assert_eq!(reframer.pending(), 20);
    }
}
