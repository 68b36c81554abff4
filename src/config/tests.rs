use super::*;

fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_are_embedded_sqlite_on_port_8080() {
    let s = Settings::from_values(&HashMap::new()).unwrap();
    assert_eq!(s.bind.port(), 8080);
    assert_eq!(s.database_url, "sqlite://sicha.db");
    assert!(s.twilio.auth_token.is_none());
    assert_eq!(s.limits.max_ws_message_bytes, 65536);
}

#[test]
fn secrets_never_reach_debug_output() {
    let s = Settings::from_values(&values(&[("TWILIO_AUTH_TOKEN", "hunter2-token")])).unwrap();
    assert!(!format!("{s:?}").contains("hunter2"));
    assert_eq!(s.twilio.auth_token.unwrap().expose(), "hunter2-token");
}

#[test]
fn bad_values_name_the_setting() {
    let err = Settings::from_values(&values(&[("SICHA_MAX_CALLS", "many")])).unwrap_err();
    assert!(err.to_string().contains("SICHA_MAX_CALLS"), "{err}");
    let err = Settings::from_values(&values(&[("SICHA_PUBLIC_URL", "ftp://x")])).unwrap_err();
    assert!(err.to_string().contains("SICHA_PUBLIC_URL"), "{err}");
}

#[test]
fn toml_keys_map_to_environment_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sicha.toml");
    std::fs::write(
        &path,
        "bind = \"127.0.0.1:9000\"\nmax_calls = 7\ntwilio_auth_token = \"t\"\n",
    )
    .unwrap();
    let map = read_toml(&path).unwrap();
    let s = Settings::from_values(&map).unwrap();
    assert_eq!(s.bind.port(), 9000);
    assert_eq!(s.limits.max_calls, 7);
    std::fs::write(&path, "no_such_setting = 1\n").unwrap();
    assert!(matches!(read_toml(&path), Err(ConfigError::UnknownKey(_))));
}

#[test]
fn unset_settings_take_the_defaults_the_table_documents() {
    let s = Settings::from_values(&HashMap::new()).unwrap();
    assert_eq!(s.providers.tts_order, ["google", "openai", "espeak"]);
    assert_eq!(s.providers.stt_model, "whisper-1");
    assert_eq!(s.providers.stt_mode, SttMode::Batch);
    assert_eq!(s.providers.realtime_stt_model, "gpt-4o-transcribe");
    assert_eq!(s.limits.max_call, Duration::from_secs(1800));
    assert_eq!(s.after_call.post_call_sms, PostCallSms::Off);
    assert!(!s.after_call.summary);
    assert_eq!(s.conversation.eager_stt_ms, Some(150));
    assert_eq!(s.web.session_ttl, Duration::from_secs(43200));
    assert!(!s.log_json);
}

#[test]
fn word_settings_say_what_they_accept() {
    let err = Settings::from_values(&values(&[("SICHA_POST_CALL_SMS", "everyone")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "setting SICHA_POST_CALL_SMS: `everyone` is not off, caller or business"
    );
    let err = Settings::from_values(&values(&[("SICHA_CALL_SUMMARY", "maybe")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "setting SICHA_CALL_SUMMARY: `maybe` is not on or off"
    );
    let err = Settings::from_values(&values(&[("SICHA_STT", "stream")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "setting SICHA_STT: `stream` is not batch or realtime"
    );
    let s = Settings::from_values(&values(&[
        ("SICHA_STT", "realtime"),
        ("SICHA_REALTIME_STT_MODEL", "gpt-4o-mini-transcribe"),
    ]))
    .unwrap();
    assert_eq!(s.providers.stt_mode, SttMode::Realtime);
    assert_eq!(s.providers.realtime_stt_model, "gpt-4o-mini-transcribe");
    let s = Settings::from_values(&values(&[
        ("SICHA_LOG_FORMAT", "json"),
        ("SICHA_EAGER_STT_MS", "off"),
        ("SICHA_CALL_SUMMARY", " on "),
    ]))
    .unwrap();
    assert!(s.log_json && s.after_call.summary);
    assert_eq!(s.conversation.eager_stt_ms, None);
}

#[test]
fn call_backs_retry_three_times_half_an_hour_apart_by_default() {
    let s = Settings::from_values(&HashMap::new()).unwrap();
    assert_eq!(s.callbacks.attempts, 3);
    assert_eq!(s.callbacks.retry_spacing, Duration::from_secs(1800));
    let s = Settings::from_values(&values(&[
        ("SICHA_CALLBACK_ATTEMPTS", "5"),
        ("SICHA_CALLBACK_RETRY_SECS", "0"),
    ]))
    .unwrap();
    assert_eq!(s.callbacks.attempts, 5);
    assert_eq!(s.callbacks.retry_spacing, Duration::ZERO);
    let err = Settings::from_values(&values(&[("SICHA_CALLBACK_ATTEMPTS", "0")])).unwrap_err();
    assert!(err.to_string().contains("SICHA_CALLBACK_ATTEMPTS"), "{err}");
}
