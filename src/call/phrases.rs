//! Fixed Hebrew phrases of the agent, said without asking the LLM: synthesised ahead and cached, so
//! they play the moment they are needed.

/// While a slow answer is still being prepared: the caller never waits in silence.
pub const FILLER: &str = "רגע, אני בודקת.";
/// STT failed.
pub const REPEAT: &str = super::transcript::REPEAT_PROMPT;
/// The caller surely spoke, but their words could not be used: said at once.
pub const DID_NOT_CATCH: &str = super::transcript::DID_NOT_CATCH;
/// The conversation looped again after it had escalated once.
pub const LOOP_GOODBYE: &str = super::hebrew::prompts::LOOP_GOODBYE;
/// The language model failed before saying anything.
pub const APOLOGY: &str = "סליחה, יש לי תקלה רגעית. אפשר לנסות שוב?";
/// The caller repeated the same thing three times, and a human can take over.
pub const ESCALATE_TRANSFER: &str =
    "נראה שאני לא מצליחה לעזור בזה. אני מעבירה אתכם לנציג אנושי, רגע אחד.";
/// The caller repeated the same thing three times, and nobody can take over now.
pub const ESCALATE_CALLBACK: &str =
    "נראה שאני לא מצליחה לעזור בזה. רשמתי את הפנייה, ונציג יחזור אליכם בהקדם.";
/// The caller went quiet.
pub const STILL_THERE: &str = "אתם עדיין איתי?";
/// Ending a call ourselves (silence, limits).
pub const GOODBYE: &str = "תודה שהתקשרתם, להתראות.";

/// Every phrase, for warming the cache.
pub const ALL: &[&str] = &[
    FILLER,
    REPEAT,
    DID_NOT_CATCH,
    LOOP_GOODBYE,
    APOLOGY,
    ESCALATE_TRANSFER,
    ESCALATE_CALLBACK,
    STILL_THERE,
    GOODBYE,
];
