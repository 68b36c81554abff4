//! What the agent says, without asking the LLM, when it could not make out the caller.

/// Said at once when a transcript is dropped although the caller clearly spoke: every caller who
/// spoke is answered. Short, so it starts before the caller wonders whether anyone is there.
pub const APOLOGY: &str = "סליחה, לא שמעתי. אפשר לחזור?";

/// What the old session says after several turns in a row it could not understand.
// kept for the old session until the call core lands
pub const REPEAT_PROMPT: &str = "סליחה, לא שמעתי טוב. אפשר לחזור על זה?";
