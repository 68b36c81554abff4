//! TODO: vad
