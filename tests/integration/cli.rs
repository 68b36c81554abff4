//! The real `sicha` binary against a fresh database: `business …` and `calls …`, on every engine.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use sicha::store::testing::for_each_engine;
use sicha::store::{CallStatus, NewCall, NewTurn, Store};

const SHOP: &str = "+97231234567";
const SHOP_NAME: &str = "מספרת שירה";
const GREETING: &str = "שלום, הגעתם למספרת שירה. במה אפשר לעזור?";
const PROMPT: &str = "את עוזרת טלפונית של מספרה בתל אביב.\nענו בקצרה.";

/// Runs `sicha ARGS` on the database at `url`.
fn sicha(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sicha"))
        .args(args)
        .env("SICHA_DATABASE_URL", url)
        .env_remove("RUST_LOG")
        .output()
        .expect("running the sicha binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs a command that must succeed and returns what it printed.
fn sicha_ok(url: &str, args: &[&str]) -> String {
    let output = sicha(url, args);
    assert!(
        output.status.success(),
        "sicha {args:?} failed:\n{}",
        stderr(&output)
    );
    stdout(&output)
}

/// Runs a command that must fail and returns its error output.
fn sicha_err(url: &str, args: &[&str]) -> String {
    let output = sicha(url, args);
    assert!(
        !output.status.success(),
        "sicha {args:?} should have failed:\n{}",
        stdout(&output)
    );
    stderr(&output)
}

fn write_prompt(dir: &Path, text: &str) -> String {
    let path = dir.join("prompt.txt");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn add_shop(url: &str, prompt_file: &str) -> String {
    sicha_ok(
        url,
        &[
            "business",
            "add",
            "--number",
            SHOP,
            "--name",
            SHOP_NAME,
            "--greeting",
            GREETING,
            "--prompt-file",
            prompt_file,
            "--voice",
            "he-IL-Wavenet-A",
            "--transfer-to",
            "+972501112222",
        ],
    )
}

fn has_hebrew(line: &str) -> bool {
    line.chars().any(|c| ('\u{0590}'..='\u{05FF}').contains(&c))
}

/// Hebrew text must stand alone on its lines: no Latin labels mixed into a right-to-left line.
fn assert_hebrew_lines_are_pure(text: &str) {
    for line in text.lines().filter(|line| has_hebrew(line)) {
        assert!(
            !line.chars().any(|c| c.is_ascii_alphabetic()),
            "Latin text inside a Hebrew line: {line:?}"
        );
    }
}

#[tokio::test]
async fn migrate_creates_and_migrates_the_database() {
    for_each_engine(|url| async move {
        let said = sicha_ok(&url, &["migrate"]);
        assert!(said.contains("is migrated"), "{said}");
        // Running it again is harmless.
        sicha_ok(&url, &["migrate"]);
        let store = Store::connect(&url).await.unwrap();
        assert!(store.list_businesses().await.unwrap().is_empty());
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn business_add_list_show_update() {
    for_each_engine(|url| async move {
        let dir = tempfile::tempdir().unwrap();
        let prompt_file = write_prompt(dir.path(), &format!("{PROMPT}\n\n"));
        assert!(sicha_ok(&url, &["business", "list"]).contains("no businesses"));

        assert!(add_shop(&url, &prompt_file).contains(SHOP));

        let list = sicha_ok(&url, &["business", "list"]);
        assert!(
            list.contains(SHOP)
                && list.contains("he-IL-Wavenet-A")
                && list.contains("+972501112222"),
            "{list}"
        );
        assert!(list.lines().any(|line| line == SHOP_NAME), "{list}");

        let show = sicha_ok(&url, &["business", "show", SHOP]);
        for text in [
            SHOP_NAME,
            GREETING,
            "את עוזרת טלפונית של מספרה בתל אביב.",
            "ענו בקצרה.",
        ] {
            assert!(
                show.lines().any(|line| line == text),
                "{text:?} not on a line of its own:\n{show}"
            );
        }
        assert!(show.contains("he-IL-Wavenet-A"), "{show}");
        assert_hebrew_lines_are_pure(&show);

        let new_prompt = write_prompt(dir.path(), "היו אדיבים.");
        let updated = sicha_ok(
            &url,
            &[
                "business",
                "update",
                SHOP,
                "--name",
                "מספרת רות",
                "--no-voice",
                "--prompt-file",
                &new_prompt,
            ],
        );
        assert!(updated.lines().any(|line| line == "מספרת רות"), "{updated}");
        let show = sicha_ok(&url, &["business", "show", SHOP]);
        assert!(show.lines().any(|line| line == "היו אדיבים."), "{show}");
        assert!(
            show.lines().any(|line| line == GREETING),
            "the greeting was kept:\n{show}"
        );
        assert!(
            !show.contains("he-IL-Wavenet-A"),
            "the voice was cleared:\n{show}"
        );
        assert!(
            show.contains("+972501112222"),
            "the transfer number was kept:\n{show}"
        );

        sicha_ok(
            &url,
            &[
                "business",
                "update",
                SHOP,
                "--no-transfer",
                "--voice",
                "he-IL-Wavenet-B",
            ],
        );
        let show = sicha_ok(&url, &["business", "show", SHOP]);
        assert!(
            !show.contains("+972501112222") && show.contains("he-IL-Wavenet-B"),
            "{show}"
        );

        assert!(sicha_err(&url, &["business", "update", SHOP]).contains("nothing to change"));
        sicha_err(
            &url,
            &["business", "update", SHOP, "--voice", "x", "--no-voice"],
        );
        assert!(sicha_err(&url, &["business", "show", "+97239999999"]).contains("no business"));
        assert!(
            sicha_err(&url, &["business", "update", "+97239999999", "--name", "x"])
                .contains("no business")
        );
    })
    .await;
}

#[tokio::test]
async fn business_key_map_is_set_on_add_changed_on_update_and_cleared() {
    for_each_engine(|url| async move {
        let dir = tempfile::tempdir().unwrap();
        let prompt_file = write_prompt(dir.path(), PROMPT);
        sicha_ok(
            &url,
            &[
                "business",
                "add",
                "--number",
                SHOP,
                "--name",
                SHOP_NAME,
                "--greeting",
                GREETING,
                "--prompt-file",
                &prompt_file,
                "--dtmf",
                "*=callback, 9=goodbye,0=transfer",
            ],
        );
        let show = sicha_ok(&url, &["business", "show", SHOP]);
        assert!(
            show.lines()
                .any(|line| line == "keys:        0=transfer,9=goodbye,*=callback"),
            "{show}"
        );
        let list = sicha_ok(&url, &["business", "list"]);
        assert!(
            list.contains("keys 0=transfer,9=goodbye,*=callback"),
            "{list}"
        );

        let updated = sicha_ok(&url, &["business", "update", SHOP, "--dtmf", "5=goodbye"]);
        assert!(updated.contains("keys:        5=goodbye"), "{updated}");
        let updated = sicha_ok(&url, &["business", "update", SHOP, "--no-dtmf"]);
        assert!(updated.contains("keys:        0=transfer"), "{updated}");

        let error = sicha_err(&url, &["business", "update", SHOP, "--dtmf", "0=dance"]);
        assert!(
            error.contains("\"dance\"") && error.contains("goodbye"),
            "{error}"
        );
        assert!(
            sicha_err(
                &url,
                &["business", "update", SHOP, "--dtmf", "1=goodbye,1=callback"]
            )
            .contains("more than once")
        );
        sicha_err(
            &url,
            &[
                "business",
                "update",
                SHOP,
                "--dtmf",
                "1=goodbye",
                "--no-dtmf",
            ],
        );
        let show = sicha_ok(&url, &["business", "show", SHOP]);
        assert!(show.contains("keys:        0=transfer"), "{show}");
    })
    .await;
}

#[tokio::test]
async fn business_numbers_must_be_e164_and_unique() {
    for_each_engine(|url| async move {
        let dir = tempfile::tempdir().unwrap();
        let prompt_file = write_prompt(dir.path(), PROMPT);
        let add = |number: &str, transfer: &str| {
            sicha_err(
                &url,
                &[
                    "business",
                    "add",
                    "--number",
                    number,
                    "--name",
                    "x",
                    "--greeting",
                    "x",
                    "--prompt-file",
                    &prompt_file,
                    "--transfer-to",
                    transfer,
                ],
            )
        };
        assert!(add("031234567", "+972501112222").contains("must start with +"));
        assert!(add("+972-3-1234567", "+972501112222").contains("only digits"));
        assert!(add(SHOP, "0501112222").contains("must start with +"));
        assert!(sicha_err(&url, &["business", "show", "12345"]).contains("must start with +"));
        assert!(
            sicha_ok(&url, &["business", "list"]).contains("no businesses"),
            "nothing was created"
        );

        add_shop(&url, &prompt_file);
        let duplicate = sicha_err(
            &url,
            &[
                "business",
                "add",
                "--number",
                SHOP,
                "--name",
                "x",
                "--greeting",
                "x",
                "--prompt-file",
                &prompt_file,
            ],
        );
        assert!(duplicate.contains("already exists"), "{duplicate}");

        let empty = write_prompt(dir.path(), "  \n");
        let refused = sicha_err(
            &url,
            &[
                "business",
                "add",
                "--number",
                "+97230000001",
                "--name",
                "x",
                "--greeting",
                "x",
                "--prompt-file",
                &empty,
            ],
        );
        assert!(refused.contains("empty"), "{refused}");
    })
    .await;
}

#[tokio::test]
async fn calls_list_and_show_a_call_with_events_and_transcript() {
    for_each_engine(|url| async move {
        let dir = tempfile::tempdir().unwrap();
        add_shop(&url, &write_prompt(dir.path(), PROMPT));
        let store = Store::connect(&url).await.unwrap();
        let shop = store.business_by_number(SHOP).await.unwrap().unwrap();
        let t0 = 1_750_000_000_000;
        let call = |sid: &str, to: &str, at: i64| NewCall {
            call_sid: sid.to_string(),
            business_id: (to == SHOP).then(|| shop.id.clone()),
            customer_id: None,
            from_number: "+972541234567".to_string(),
            to_number: to.to_string(),
            instance_id: "i-1".to_string(),
            status: CallStatus::Answered,
            started_at_ms: at,
        };
        store.insert_call(&call("CA1", SHOP, t0)).await.unwrap();
        store
            .insert_call(&call("CA2", "+15550000000", t0 + 5000))
            .await
            .unwrap();
        store
            .finish_call("CA2", CallStatus::Rejected, "unknown_number", t0 + 5000)
            .await
            .unwrap();
        store.mark_streaming("CA1", t0 + 800).await.unwrap();
        store
            .insert_event(
                "CA1",
                "stream_started",
                Some(&json!({"stream_sid": "MZ1"})),
                t0 + 800,
            )
            .await
            .unwrap();
        store
            .insert_event("CA1", "barge_in", None, t0 + 4200)
            .await
            .unwrap();
        let caller = NewTurn {
            call_sid: "CA1".into(),
            seq: 1,
            role: "caller".into(),
            text: "אני רוצה לקבוע תור למחר".into(),
            heard_text: None,
            started_at_ms: t0 + 1000,
            ended_at_ms: t0 + 2600,
            interrupted: false,
            stt_ms: Some(240),
            llm_ttft_ms: None,
            llm_first_sentence_ms: None,
            tts_ttfb_ms: None,
            endpoint_ms: Some(600),
            v2v_ms: None,
        };
        let agent = NewTurn {
            seq: 2,
            role: "agent".into(),
            text: "בטח, לאיזו שעה מתאים לך?".into(),
            heard_text: Some("בטח".into()),
            started_at_ms: t0 + 3500,
            ended_at_ms: t0 + 4200,
            interrupted: true,
            stt_ms: None,
            endpoint_ms: None,
            llm_ttft_ms: Some(310),
            v2v_ms: Some(1150),
            ..caller.clone()
        };
        store.insert_turn(&caller).await.unwrap();
        store.insert_turn(&agent).await.unwrap();
        store
            .finish_call("CA1", CallStatus::Completed, "caller_hung_up", t0 + 65_000)
            .await
            .unwrap();
        store
            .record_twilio_status("CA1", "completed", Some(65))
            .await
            .unwrap();
        store.close().await;

        let list = sicha_ok(&url, &["calls", "list"]);
        let sids: Vec<&str> = list
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(2))
            .collect();
        assert_eq!(sids, ["CA2", "CA1"], "newest first:\n{list}");
        assert!(
            list.contains("1:05")
                && list.contains("caller_hung_up")
                && list.contains("unknown_number"),
            "{list}"
        );
        let of_shop = sicha_ok(&url, &["calls", "list", "--business", SHOP]);
        assert!(
            of_shop.contains("CA1") && !of_shop.contains("CA2"),
            "{of_shop}"
        );
        let limited = sicha_ok(&url, &["calls", "list", "--limit", "1"]);
        assert!(
            limited.contains("CA2") && !limited.contains("CA1"),
            "{limited}"
        );
        let rejected = sicha_ok(&url, &["calls", "list", "--status", "rejected"]);
        assert!(
            rejected.contains("CA2") && !rejected.contains("CA1"),
            "{rejected}"
        );
        assert!(
            sicha_err(&url, &["calls", "list", "--business", "972"]).contains("must start with +")
        );
        assert!(
            sicha_err(&url, &["calls", "list", "--status", "ringing"]).contains("expected one of")
        );

        let show = sicha_ok(&url, &["calls", "show", "CA1"]);
        for expected in [
            "call CA1",
            "completed",
            "caller_hung_up",
            "+0.800 s",
            "+65.000 s",
            "65 s",
            "stream_started",
            "MZ1",
            "barge_in",
        ] {
            assert!(show.contains(expected), "{expected:?} missing:\n{show}");
        }
        let lines: Vec<&str> = show.lines().collect();
        let at = |text: &str| {
            lines
                .iter()
                .position(|line| *line == text)
                .unwrap_or_else(|| panic!("{text:?} not alone on a line:\n{show}"))
        };
        assert!(at(SHOP_NAME) > 0);
        let (said, heard) = (at(&agent.text), at("בטח"));
        assert!(at(&caller.text) < said && said < heard, "{show}");
        assert!(
            lines[said - 1].contains("agent") && lines[said - 1].contains("INTERRUPTED"),
            "{show}"
        );
        assert!(lines[heard - 1].contains("heard"), "{show}");
        assert!(lines[at(&caller.text) - 1].contains("stt 240 ms"), "{show}");
        assert_hebrew_lines_are_pure(&show);

        assert!(sicha_err(&url, &["calls", "show", "CA-none"]).contains("no call CA-none"));
    })
    .await;
}
