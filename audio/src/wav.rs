//! TODO: wav
