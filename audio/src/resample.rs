//! TODO: resample
