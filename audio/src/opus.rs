//! TODO: opus
