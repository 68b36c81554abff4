//! TODO: mulaw
