//! The core driven with made-up instants: no sockets, no tasks, no sleeping. Each test feeds inputs at
//! chosen milliseconds and asserts the effects.
//! - [`harness`]: a call with a business, time in milliseconds, effect helpers.
//! - [`stream`], [`turns`], [`end_of_turn`], [`preemptive`], [`barge_in`], [`escalation`], [`fallbacks`], [`tools`],
//!   [`business_tools`], [`callback`]:
//!   by subject.

mod barge_in;
mod business_tools;
mod callback;
mod end_of_turn;
mod escalation;
mod fallbacks;
pub(super) mod harness;
mod preemptive;
mod stream;
mod tools;
mod turns;
