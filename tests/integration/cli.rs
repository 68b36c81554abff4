//! The real `sicha` binary against a fresh database: `business …` here, its tools in [`tools`] and
//! `calls …` in [`calls`], on every engine.

mod calls;
mod tools;

use std::path::Path;

use crate::common::databases::for_each_engine;
use crate::common::{sicha_err, sicha_ok};
use sicha::store::Store;

const SHOP: &str = "+97231234567";
const SHOP_NAME: &str = "מספרת שירה";
const GREETING: &str = "שלום, הגעתם למספרת שירה. במה אפשר לעזור?";
const PROMPT: &str = "את עוזרת טלפונית של מספרה בתל אביב.\nענו בקצרה.";

fn write_prompt(dir: &Path, text: &str) -> String {
    let path = dir.join("prompt.txt");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `business add` of `number` with the shop's name and greeting, then the `extra` options.
fn add_args<'a>(number: &'a str, prompt_file: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "business",
        "add",
        "--number",
        number,
        "--name",
        SHOP_NAME,
        "--greeting",
        GREETING,
        "--prompt-file",
        prompt_file,
    ];
    args.extend_from_slice(extra);
    args
}

fn add_shop(url: &str, prompt_file: &str) -> String {
    let extra = [
        "--voice",
        "he-IL-Wavenet-A",
        "--transfer-to",
        "+972501112222",
    ];
    sicha_ok(url, &add_args(SHOP, prompt_file, &extra))
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
        let keys = ["--dtmf", "*=callback, 9=goodbye,0=transfer"];
        sicha_ok(&url, &add_args(SHOP, &prompt_file, &keys));
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
async fn business_opening_hours_default_are_set_changed_and_reset() {
    for_each_engine(|url| async move {
        let dir = tempfile::tempdir().unwrap();
        let prompt_file = write_prompt(dir.path(), PROMPT);
        sicha_ok(&url, &add_args(SHOP, &prompt_file, &[]));
        let show = sicha_ok(&url, &["business", "show", SHOP]);
        assert!(
            show.lines()
                .any(|line| line == "hours:       sun-thu 09:00-18:00 (Israel)"),
            "{show}"
        );
        let hours = "fri 09:00-13:00, sun-thu 09:00-18:00";
        let updated = sicha_ok(&url, &["business", "update", SHOP, "--hours", hours]);
        assert!(
            updated.contains("hours:       sun-thu 09:00-18:00, fri 09:00-13:00 (Israel)"),
            "{updated}"
        );
        let updated = sicha_ok(&url, &["business", "update", SHOP, "--hours", "always"]);
        assert!(
            updated.contains("hours:       always (Israel)"),
            "{updated}"
        );
        let updated = sicha_ok(&url, &["business", "update", SHOP, "--default-hours"]);
        assert!(
            updated.contains("hours:       sun-thu 09:00-18:00 (Israel)"),
            "{updated}"
        );

        let error = sicha_err(
            &url,
            &["business", "update", SHOP, "--hours", "thu 20:00-02:00"],
        );
        assert!(error.contains("two entries"), "{error}");
        let error = sicha_err(
            &url,
            &add_args("+97231234599", &prompt_file, &["--hours", "sunday 9-5"]),
        );
        assert!(error.contains("\"sunday\" is not a day"), "{error}");
    })
    .await;
}

/// Texting callers is opted into per business (the caller ID can be spoofed and the model writes
/// the text), with a count per call and the links texts may hold.
#[tokio::test]
async fn business_texting_is_off_until_turned_on_and_checked() {
    for_each_engine(|url| async move {
        let dir = tempfile::tempdir().unwrap();
        let prompt_file = write_prompt(dir.path(), PROMPT);
        sicha_ok(&url, &add_args(SHOP, &prompt_file, &[]));
        let show = sicha_ok(&url, &["business", "show", SHOP]);
        assert!(
            show.contains("texts:       off (the agent does not text callers)"),
            "{show}"
        );

        let updated = sicha_ok(
            &url,
            &[
                "business",
                "update",
                SHOP,
                "--sms-tool",
                "--sms-max",
                "2",
                "--sms-link",
                "https://shop.example/book",
            ],
        );
        assert!(
            updated
                .contains("texts:       up to 2 per call, links under https://shop.example/book"),
            "{updated}"
        );
        let error = sicha_err(
            &url,
            &["business", "update", SHOP, "--sms-tool", "--sms-max", "9"],
        );
        assert!(error.contains("1 to 5"), "{error}");
        let error = sicha_err(
            &url,
            &[
                "business",
                "update",
                SHOP,
                "--sms-tool",
                "--sms-link",
                "http://shop.example",
            ],
        );
        assert!(error.contains("https://host/path"), "{error}");
        let error = sicha_err(&url, &["business", "update", SHOP, "--sms-max", "1"]);
        assert!(error.contains("--sms-tool"), "{error}");

        let updated = sicha_ok(&url, &["business", "update", SHOP, "--no-sms-tool"]);
        assert!(updated.contains("texts:       off"), "{updated}");
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
                &add_args(number, &prompt_file, &["--transfer-to", transfer]),
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
        let duplicate = sicha_err(&url, &add_args(SHOP, &prompt_file, &[]));
        assert!(duplicate.contains("already exists"), "{duplicate}");

        let empty = write_prompt(dir.path(), "  \n");
        let refused = sicha_err(&url, &add_args("+97230000001", &empty, &[]));
        assert!(refused.contains("empty"), "{refused}");
    })
    .await;
}
