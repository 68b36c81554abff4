//! The fault suite: what a call does when the process dies, the database goes away or a provider
//! stalls. Each test breaks one thing for real (a SIGKILL of the real binary, a cut network path to
//! the database, a stand-in provider that never answers) and checks what the caller hears and what
//! the records say afterwards.

use std::time::Duration;

use tokio::time::Instant;

use crate::common;
use crate::common::crm::CountingCrm;
use crate::common::databases::{TestDatabase, for_each_engine, hold_every_connection};
use crate::common::paced::speak_and_time_answer;
use crate::common::proxy::CuttableProxy;
use crate::common::served::ServedBinary;
use common::{BUSINESS_NUMBER, heard_within, listen};
use sicha::store::{Engine, Store, Turn};
use sicha_sim::openai::{ChatRule, OpenAiSim, SimProfile};
use sicha_sim::twilio_caller::MediaStreamClient;

const QUIET: Duration = Duration::from_millis(1200);
/// What the caller may wait after their speech before hearing something, whatever fails.
const HEARS_SOMETHING_WITHIN: Duration = Duration::from_millis(2500);

/// Keeps listening (marks echoed) until the call has `count` turns recorded.
async fn until_turns(store: &Store, stream: &mut MediaStreamClient, call_sid: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let turns = store.turns_for_call(call_sid).await.unwrap();
        if turns.len() >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {count} turns recorded: {turns:?}",
            turns.len()
        );
        heard_within(stream, Duration::from_millis(200)).await;
    }
}

/// The records keep speech order: the greeting, then the caller and the agent in turn, the caller's
/// words in the order spoken.
fn assert_speech_order(turns: &[Turn], callers: &[&str]) {
    let roles: Vec<&str> = turns.iter().map(|t| t.role.as_str()).collect();
    let mut expected = vec!["agent"];
    for _ in callers {
        expected.extend(["caller", "agent"]);
    }
    assert_eq!(roles, expected, "{turns:?}");
    let seqs: Vec<i64> = turns.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, (1..=turns.len() as i64).collect::<Vec<_>>());
    let said: Vec<&str> = turns
        .iter()
        .filter(|t| t.role == "caller")
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(said, callers, "{turns:?}");
}

/// SIGKILL of the real server while an answer is on the line, then a restart of the same instance:
/// the turns committed before the kill are intact, the answer being spoken is an interrupted agent
/// turn, and the call gets its end, its CRM interaction and its delivery exactly once, on both
/// engines.
#[tokio::test]
async fn a_server_killed_mid_answer_ends_the_call_once_at_restart() {
    for_each_engine(|db| async move {
        let openai = OpenAiSim::start(SimProfile {
            // Slow enough that the answer is still being written when the process dies.
            llm_tokens_per_sec: 6.0,
            ..SimProfile::instant()
        })
        .await
        .unwrap();
        openai.push_transcripts(["מה שעות הפתיחה שלכם?"]);
        openai.add_chat_rule(ChatRule::reply(
            "שעות",
            "אנחנו פתוחים מראשון עד חמישי. משמונה בבוקר ועד שש בערב. ביום שישי עד אחת בצהריים.",
        ));
        let crm = CountingCrm::start().await;
        let openai_base = openai.base_url().to_string();
        let settings = [
            ("OPENAI_BASE_URL", openai_base.as_str()),
            ("SICHA_TTS", "openai"),
            ("SICHA_CRM_WEBHOOK_URL", crm.url.as_str()),
            ("SICHA_EAGER_STT_MS", "off"),
            ("SICHA_MAX_WS_MESSAGES_PER_SEC", "100000"),
        ];
        let server = ServedBinary::start_with("ai", &db, &settings).await;
        let store = Store::connect(&db).await.unwrap();
        common::add_test_business(&store, BUSINESS_NUMBER).await;

        let mut stream = server.connect_call("CA900").await;
        listen(&mut stream, QUIET, true).await;
        let answered =
            speak_and_time_answer(&mut stream, "single/u01_hours.wav", Duration::from_secs(15))
                .await;
        assert!(answered.is_some(), "the answer starts");
        // Its first sentence is on the line (and recorded as such); the rest is still being written.
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.kill().await;

        let call = store.call_by_sid("CA900").await.unwrap().unwrap();
        assert!(call.ended_at_ms.is_none(), "nobody ended it: {call:?}");
        let before: Vec<(i64, String)> = store
            .turns_for_call("CA900")
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.seq, t.role))
            .collect();
        assert_eq!(
            before,
            [(1, "agent".to_string()), (2, "caller".to_string())],
            "the greeting and the caller's words were committed as they happened"
        );

        let restarted = ServedBinary::start_with("ai", &db, &settings).await;
        let call = store.call_by_sid("CA900").await.unwrap().unwrap();
        assert_eq!(call.status, sicha::store::CallStatus::Interrupted);
        assert_eq!(call.end_reason.as_deref(), Some("server_restarted"));
        let turns = store.turns_for_call("CA900").await.unwrap();
        assert_eq!(turns.len(), 3, "{turns:?}");
        assert_eq!(turns[1].text, "מה שעות הפתיחה שלכם?");
        let cut_off = &turns[2];
        assert!(
            cut_off.role == "agent"
                && cut_off.interrupted
                && cut_off.text.starts_with("אנחנו פתוחים מראשון עד חמישי."),
            "the answer on the line at the kill: {cut_off:?}"
        );
        let customer = call.customer_id.clone().unwrap();
        let interactions = store.interactions_for_customer(&customer).await.unwrap();
        assert_eq!(interactions.len(), 1, "{interactions:?}");
        assert_eq!(interactions[0].outcome.as_deref(), Some("interrupted"));
        assert!(interactions[0].transcript.contains("אנחנו פתוחים"));
        let deadline = Instant::now() + Duration::from_secs(15);
        while crm.keys().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        restarted.stop().await;

        // Another restart finds nothing left to do.
        let again = ServedBinary::start_with("ai", &db, &settings).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        again.stop().await;
        let ended = store
            .events_for_call("CA900")
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "call_ended")
            .count();
        assert_eq!(ended, 1);
        assert_eq!(store.turns_for_call("CA900").await.unwrap().len(), 3);
        assert_eq!(
            store
                .interactions_for_customer(&customer)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(crm.keys(), ["crm:CA900"], "delivered once");
        store.close().await;
    })
    .await;
}

/// The database unreachable for 10 s or more in the middle of a call: PostgreSQL behind a cut network
/// path with its backends terminated; SQLite with every pooled connection taken. The caller keeps
/// hearing answers, and every turn lands, in order, once the database is back.
#[tokio::test]
async fn a_database_gone_for_ten_seconds_mid_call_loses_no_turn() {
    for database in TestDatabase::all_available().await {
        println!("running on {}", database.engine());
        let proxy = match database.engine() {
            Engine::Postgres => Some(CuttableProxy::start(postgres_addr(database.url())).await),
            Engine::Sqlite => None,
        };
        let app_url = match &proxy {
            Some(proxy) => {
                let mut url = url::Url::parse(database.url()).unwrap();
                url.set_port(Some(proxy.addr.port())).unwrap();
                url.to_string()
            }
            None => database.url().to_string(),
        };
        // No "are you still there?" while the test waits out the outage in silence.
        let patient = [("SICHA_SILENCE_PROMPT_SECS", "60")];
        let world = common::ai_world(&app_url, "openai", &patient).await;
        let (app, openai) = (&world.app, &world.openai);
        let said = ["מה שעות הפתיחה שלכם?", "ומה המחיר של תספורת?"];
        openai.push_transcripts(said);
        let mut stream = app.connect_call("CA910").await;
        listen(&mut stream, QUIET, true).await;
        until_turns(&app.store, &mut stream, "CA910", 1).await;

        // The outage.
        let outage_began = Instant::now();
        let held = match &proxy {
            Some(proxy) => {
                proxy.cut();
                terminate_backends(database.url()).await;
                None
            }
            None => Some(hold_every_connection(&app.store).await),
        };
        for (fixture, words) in [
            ("single/u01_hours.wav", said[0]),
            ("single/u05_haircut_price.wav", said[1]),
        ] {
            let waited = speak_and_time_answer(&mut stream, fixture, Duration::from_secs(5)).await;
            assert!(
                waited.is_some_and(|w| w < HEARS_SOMETHING_WITHIN),
                "answered during the outage ({words}): {waited:?}"
            );
            listen(&mut stream, QUIET, true).await;
        }
        // The database stays away for 10 s in all, whatever the answers took.
        tokio::time::sleep_until(outage_began + Duration::from_secs(10)).await;
        match &proxy {
            Some(proxy) => proxy.restore(),
            None => drop(held),
        }

        until_turns(&app.store, &mut stream, "CA910", 5).await;
        stream.send_stop("CA910").await.unwrap();
        let call = app
            .wait_for_call("CA910", |c| c.ended_at_ms.is_some())
            .await;
        assert_eq!(call.status, sicha::store::CallStatus::Completed);
        let turns = app.store.turns_for_call("CA910").await.unwrap();
        assert_speech_order(&turns, &said);
        drop(stream);
        world.app.shutdown().await;
        drop(proxy);
        database.remove().await;
    }
}

/// Providers that stall: STT taking 8 s, a model that never sends a token, a TTS that never answers.
/// After every utterance the caller hears something within 2.5 s of the end of their speech, and the
/// records keep speech order.
#[tokio::test]
async fn stalled_providers_the_caller_still_hears_something_within_two_and_a_half_seconds() {
    let database = TestDatabase::sqlite().unwrap();
    // OpenAI's speech first, espeak-ng after it: the stalled TTS falls back to local speech.
    let world = common::ai_world(database.url(), "openai,espeak", &[]).await;
    let (app, openai) = (&world.app, &world.openai);
    let said = [
        "מה שעות הפתיחה שלכם?",
        "ומה המחיר של תספורת?",
        "אפשר לקבוע תור למחר?",
    ];
    openai.push_transcripts(said);
    let mut stream = app.connect_call("CA920").await;
    listen(&mut stream, QUIET, true).await;
    let stalls = [
        (
            "STT takes 8 s",
            SimProfile {
                stt_ms: 8000,
                ..SimProfile::instant()
            },
        ),
        (
            "the model never sends a token",
            SimProfile {
                llm_ttft_ms: 120_000,
                ..SimProfile::instant()
            },
        ),
        (
            "TTS never answers",
            SimProfile {
                tts_ttfb_ms: 120_000,
                ..SimProfile::instant()
            },
        ),
    ];
    let fixtures = [
        "single/u01_hours.wav",
        "single/u05_haircut_price.wav",
        "single/u03_booking.wav",
    ];
    for (n, ((stall, profile), fixture)) in stalls.into_iter().zip(fixtures).enumerate() {
        openai.set_profile(profile);
        let waited = speak_and_time_answer(&mut stream, fixture, Duration::from_secs(5)).await;
        println!("{stall}: first audio after {waited:?}");
        assert!(
            waited.is_some_and(|w| w < HEARS_SOMETHING_WITHIN),
            "{stall}: the caller waited {waited:?}"
        );
        // The turn plays out (an answer, or an apology) before the next stall.
        until_turns(&app.store, &mut stream, "CA920", 3 + 2 * n).await;
        openai.set_profile(SimProfile::instant());
    }
    stream.send_stop("CA920").await.unwrap();
    app.wait_for_call("CA920", |c| c.ended_at_ms.is_some())
        .await;
    let turns = app.store.turns_for_call("CA920").await.unwrap();
    assert_speech_order(&turns, &said);
    drop(stream);
    world.app.shutdown().await;
    database.remove().await;
}

/// Where the PostgreSQL server of `url` listens.
fn postgres_addr(url: &str) -> std::net::SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap();
    let port = url.port().unwrap_or(5432);
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .unwrap()
        .next()
        .unwrap()
}

/// Ends every session on the database of `url`, as an administrator or a failover does.
async fn terminate_backends(url: &str) {
    use sqlx::Connection;
    let parsed = url::Url::parse(url).unwrap();
    let name = parsed.path().trim_start_matches('/').to_string();
    let mut admin = parsed.clone();
    admin.set_path("/postgres");
    let mut connection = sqlx::PgConnection::connect(admin.as_str()).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .execute(&mut connection)
    .await
    .unwrap();
    let _ = connection.close().await;
}
