//! TODO: endpoint
