//! What the agent says without asking the LLM when it could not make out the caller, or when the
//! conversation goes round in circles.

/// Said at once when a transcript is dropped although the caller clearly spoke: every caller who
/// spoke is answered. Short, so it starts before the caller wonders whether anyone is there.
pub const DID_NOT_CATCH: &str = "סליחה, לא שמעתי. אפשר לחזור?";

/// Said when a conversation that already escalated loops again: the call ends instead of
/// escalating a second time (and promising a second call-back).
pub const LOOP_GOODBYE: &str = "הפנייה שלכם כבר רשומה, ונציג יחזור אליכם בהקדם. תודה ולהתראות.";

/// What the old session says after several turns in a row it could not understand.
// kept for the old session until the call core lands
pub const REPEAT_PROMPT: &str = "סליחה, לא שמעתי טוב. אפשר לחזור על זה?";
