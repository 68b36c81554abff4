//! Every setting: its environment name, default and meaning. The README's configuration table and the
//! TOML file keys follow this list.

/// Every setting: (environment name, default, meaning). The README's table is generated from the same facts.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    (
        "SICHA_BIND",
        "0.0.0.0:8080",
        "address the server listens on",
    ),
    (
        "SICHA_PUBLIC_URL",
        "",
        "https origin Twilio reaches (builds the wss:// stream URL, validates signatures)",
    ),
    (
        "SICHA_DATABASE_URL",
        "sqlite://sicha.db",
        "sqlite://FILE (created and migrated on start) or postgres://…",
    ),
    (
        "SICHA_INSTANCE_ID",
        "(host name)",
        "names this instance's calls, so a restart reconciles only its own",
    ),
    ("TWILIO_ACCOUNT_SID", "", "Twilio account (REST calls)"),
    (
        "TWILIO_AUTH_TOKEN",
        "",
        "validates Twilio signatures and authenticates REST calls (secret)",
    ),
    (
        "TWILIO_API_BASE",
        "https://api.twilio.com/2010-04-01",
        "Twilio REST base URL",
    ),
    (
        "SICHA_STREAM_SECRET",
        "(derived from TWILIO_AUTH_TOKEN)",
        "key for stream tokens; set the same on every instance (secret)",
    ),
    (
        "SICHA_STREAM_TOKEN_TTL_SECS",
        "60",
        "how long a stream token issued by the voice webhook stays valid",
    ),
    (
        "SICHA_MAX_CALLS",
        "200",
        "concurrent live calls; further calls hear a busy message",
    ),
    (
        "SICHA_MAX_CALL_SECS",
        "1800",
        "a call is ended after this long",
    ),
    (
        "SICHA_MAX_WS_MESSAGE_BYTES",
        "65536",
        "larger Media Streams messages close the socket",
    ),
    (
        "SICHA_MAX_WS_MESSAGES_PER_SEC",
        "200",
        "sustained inbound message rate beyond which the socket is closed",
    ),
    (
        "SICHA_SHUTDOWN_GRACE_SECS",
        "30",
        "on SIGTERM, live calls may run this long before they are ended",
    ),
    (
        "OPENAI_API_KEY",
        "",
        "key for the OpenAI-compatible STT, LLM and TTS endpoints (secret; none for local servers)",
    ),
    (
        "OPENAI_BASE_URL",
        "https://api.openai.com/v1",
        "OpenAI-compatible API base (vLLM, llama.cpp server, speaches… work too)",
    ),
    ("SICHA_STT_MODEL", "whisper-1", "speech-to-text model"),
    (
        "SICHA_STT",
        "batch",
        "speech to text: batch (each utterance uploaded when it ends) or realtime (streamed over the Realtime API's WebSocket while the caller speaks; batch remains the fallback)",
    ),
    (
        "SICHA_REALTIME_STT_MODEL",
        "gpt-4o-transcribe",
        "transcription model of realtime speech to text",
    ),
    ("SICHA_LLM_MODEL", "gpt-4o", "chat model"),
    (
        "SICHA_TTS",
        "google,openai,espeak",
        "text-to-speech providers in fallback order: google, openai, elevenlabs, espeak",
    ),
    (
        "SICHA_OPENAI_TTS_MODEL",
        "gpt-4o-mini-tts",
        "OpenAI speech model",
    ),
    ("SICHA_OPENAI_TTS_VOICE", "alloy", "OpenAI speech voice"),
    (
        "GOOGLE_TTS_API_KEY",
        "",
        "Google Cloud Text-to-Speech key (secret)",
    ),
    (
        "GOOGLE_TTS_BASE_URL",
        "https://texttospeech.googleapis.com",
        "Google Cloud Text-to-Speech base",
    ),
    (
        "GOOGLE_TTS_VOICE",
        "he-IL-Wavenet-A",
        "default Google he-IL voice (a business's --voice overrides it)",
    ),
    ("ELEVENLABS_API_KEY", "", "ElevenLabs key (secret)"),
    (
        "ELEVENLABS_BASE_URL",
        "https://api.elevenlabs.io",
        "ElevenLabs base",
    ),
    ("ELEVENLABS_VOICE_ID", "", "ElevenLabs voice id"),
    (
        "SICHA_CRM_WEBHOOK_URL",
        "",
        "after each call, POST the CRM interaction as JSON here (through the outbox, with retries)",
    ),
    (
        "SICHA_POST_CALL_SMS",
        "off",
        "after each call, text a summary: off, caller or business",
    ),
    (
        "SICHA_CALL_SUMMARY",
        "off",
        "on: the LLM writes a short summary of each call for the CRM interaction",
    ),
    (
        "SICHA_RECORDINGS_DIR",
        "",
        "when set, both tracks of every call are recorded to DIR/CALLSID.opus",
    ),
    (
        "SICHA_CALLBACK_ATTEMPTS",
        "3",
        "calls placed for one promised call-back before it is given up (busy, no answer, failed)",
    ),
    (
        "SICHA_CALLBACK_RETRY_SECS",
        "1800",
        "after an unanswered call-back, the next attempt waits this long (then for the business's opening hours)",
    ),
    (
        "SICHA_ADMIN_USER",
        "",
        "user name for the web pages; without it and a password hash the pages answer 503",
    ),
    (
        "SICHA_ADMIN_PASSWORD_HASH",
        "",
        "argon2 PHC string of the web password, made by `sicha admin hash-password` (secret)",
    ),
    (
        "SICHA_SESSION_TTL_SECS",
        "43200",
        "a web sign-in lasts this long (sessions live in memory: a restart signs everyone out)",
    ),
    (
        "SICHA_SIGN_IN_MAX_FAILURES",
        "5",
        "failed sign-ins from one client address in 15 minutes before that address is refused",
    ),
    (
        "SICHA_SIGN_IN_DELAY_MS",
        "1000",
        "after a failed sign-in, the user name waits this long before the next try, doubling with each further failure up to 60 s (0: no wait)",
    ),
    (
        "SICHA_VAD_START_MS",
        "120",
        "caller speech needed to open an utterance (and to barge in over the agent)",
    ),
    (
        "SICHA_VAD_HANGOVER_MS",
        "600",
        "caller silence that closes an utterance",
    ),
    (
        "SICHA_EAGER_STT_MS",
        "150",
        "silence after which speech-to-text starts early (below the hangover), or off",
    ),
    (
        "SICHA_END_OF_TURN",
        "hebrew",
        "how the end of a caller's turn is decided: hebrew (from the eager transcript's last words and the voice's pitch too: sooner after a finished sentence, up to 1.5 s after \"ו\", \"של\", a filler or half a phone number; needs eager transcription) or silence (the hangover alone)",
    ),
    (
        "SICHA_SILENCE_PROMPT_SECS",
        "8",
        "a quiet line for this long gets \"are you still there?\"",
    ),
    (
        "SICHA_SILENCE_PROMPTS",
        "2",
        "unanswered silence prompts before the agent says goodbye and hangs up",
    ),
    (
        "SICHA_RECORD_STREAMS_DIR",
        "",
        "when set (or `serve --record-streams DIR`), every inbound Media Streams socket is written to DIR as JSON lines with arrival times, for `sicha call --replay`",
    ),
    (
        "SICHA_WARM_UP_WAIT_SECS",
        "10",
        "a fresh instance reports ready once its fixed phrases and greetings are synthesised, or after this long (logged) when the TTS cannot make them",
    ),
    (
        "SICHA_METRICS_BIND",
        "",
        "when set (e.g. 127.0.0.1:9090), `/metrics` is served on this address of its own, without authentication",
    ),
    (
        "SICHA_METRICS_TOKEN",
        "",
        "when set, `/metrics` on the main listener answers requests with `Authorization: Bearer TOKEN`; without this or SICHA_METRICS_BIND it answers 404 there (secret)",
    ),
    ("SICHA_LOG", "info", "log filter (tracing EnvFilter syntax)"),
    ("SICHA_LOG_FORMAT", "text", "text or json"),
];

#[cfg(test)]
mod tests {
    /// The README's configuration table is the user's reference: every setting must be in it.
    #[test]
    fn every_setting_is_documented_in_the_readme() {
        let readme = include_str!("../../README.md");
        for (name, _, _) in super::SETTINGS {
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} is missing from README.md"
            );
        }
    }
}
