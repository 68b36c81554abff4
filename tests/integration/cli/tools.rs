//! `business add|update --tools-file`, `--clear-tools`, `--rotate-tools-secret` and how `business
//! show` lists tools and hides their secret.

use super::*;

const TOOLS_TOML: &str = r#"max_calls_per_call = 5

[[tools]]
name = "book_appointment"
description = "Book an appointment for the caller."
url = "https://salon.example/sicha/book"
timeout_ms = 8000
confirm = true
max_per_call = 2
waiting_phrase = "רגע, אני קובעת את התור"
parameters = { type = "object", properties = { date = { type = "string" } }, required = ["date"] }
"#;

const TOOLS_JSON: &str = r#"{"tools": [
  {"name": "check_availability", "description": "Free slots on a day.",
   "url": "http://localhost:9000/slots"}
]}"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The secret `show --reveal-tools-secret` prints.
fn revealed_secret(url: &str) -> String {
    let show = sicha_ok(url, &["business", "show", SHOP, "--reveal-tools-secret"]);
    let line = show
        .lines()
        .find_map(|line| line.strip_prefix("tools secret: "))
        .unwrap_or_else(|| panic!("no secret in:\n{show}"));
    assert!(
        line.len() == 64 && line.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    line.to_string()
}

#[tokio::test]
async fn tools_are_added_shown_replaced_and_cleared_with_their_secret_kept_until_rotated() {
    for_each_engine(|url| async move {
        let dir = tempfile::tempdir().unwrap();
        let prompt_file = write_prompt(dir.path(), PROMPT);
        let toml_file = write(dir.path(), "tools.toml", TOOLS_TOML);
        sicha_ok(
            &url,
            &add_args(SHOP, &prompt_file, &["--tools-file", &toml_file]),
        );

        let show = sicha_ok(&url, &["business", "show", SHOP]);
        for line in [
            "tools:       1 (at most 5 tool calls per call)",
            "tools secret: (hidden; --reveal-tools-secret prints it)",
            "tool book_appointment",
            "  url:          https://salon.example/sicha/book",
            "  timeout:      8000 ms",
            "  confirm:      yes",
            "  max per call: 2",
            "Book an appointment for the caller.",
            "רגע, אני קובעת את התור",
        ] {
            assert!(show.lines().any(|l| l == line), "{line:?} not in:\n{show}");
        }
        assert_hebrew_lines_are_pure(&show);
        let secret = revealed_secret(&url);
        assert!(!show.contains(&secret), "hidden unless asked for");
        assert!(sicha_ok(&url, &["business", "list"]).contains("tools 1"));

        // New tools from a JSON file replace the old ones and keep the secret.
        let json_file = write(dir.path(), "tools.json", TOOLS_JSON);
        let updated = sicha_ok(
            &url,
            &["business", "update", SHOP, "--tools-file", &json_file],
        );
        assert!(updated.contains("tool check_availability"), "{updated}");
        assert!(!updated.contains("book_appointment"), "{updated}");
        assert!(
            updated.contains("  timeout:      5000 ms"),
            "the default: {updated}"
        );
        assert!(!updated.contains(&secret), "{updated}");
        assert_eq!(revealed_secret(&url), secret);

        sicha_ok(&url, &["business", "update", SHOP, "--rotate-tools-secret"]);
        let rotated = revealed_secret(&url);
        assert_ne!(rotated, secret);

        let cleared = sicha_ok(&url, &["business", "update", SHOP, "--clear-tools"]);
        assert!(
            cleared.lines().any(|l| l == "tools:       none"),
            "{cleared}"
        );
        assert!(!cleared.contains("check_availability"), "{cleared}");
        assert_eq!(revealed_secret(&url), rotated, "kept for tools added back");

        sicha_err(
            &url,
            &[
                "business",
                "update",
                SHOP,
                "--tools-file",
                &json_file,
                "--clear-tools",
            ],
        );
    })
    .await;
}

#[tokio::test]
async fn a_refused_tools_file_names_its_line_and_changes_nothing() {
    for_each_engine(|url| async move {
        let dir = tempfile::tempdir().unwrap();
        let prompt_file = write_prompt(dir.path(), PROMPT);
        let good = write(dir.path(), "tools.toml", TOOLS_TOML);
        sicha_ok(&url, &add_args(SHOP, &prompt_file, &["--tools-file", &good]));

        let plain_http = TOOLS_TOML.replace("https://salon.example", "http://salon.example");
        let bad = write(dir.path(), "bad.toml", &plain_http);
        let error = sicha_err(&url, &["business", "update", SHOP, "--tools-file", &bad]);
        assert!(
            error.contains(&format!("the tools file {bad} is refused at line 6, column 7:"))
                && error.contains("use https"),
            "{error}"
        );
        let show = sicha_ok(&url, &["business", "show", SHOP]);
        assert!(show.contains("https://salon.example/sicha/book"), "kept:\n{show}");

        let misspelt = write(
            dir.path(),
            "bad.json",
            "{\"tools\": [\n  {\"name\": \"x\", \"description\": \"d\", \"url\": \"https://a.example/\",\n   \"timeout\": 3000}\n]}",
        );
        let error = sicha_err(
            &url,
            &add_args("+97230000001", &prompt_file, &["--tools-file", &misspelt]),
        );
        assert!(
            error.contains("line 3, column") && error.contains("unknown field `timeout`"),
            "{error}"
        );
        assert!(
            sicha_err(&url, &["business", "show", "+97230000001"]).contains("no business"),
            "nothing was added"
        );
    })
    .await;
}
