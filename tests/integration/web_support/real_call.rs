//! A real call for the pages to show: the simulated Twilio caller speaks fixture audio over the
//! real webhook and Media Streams socket to the app in AI mode (simulated STT, chat and speech),
//! cuts the agent's long answer short after its first sentence, and hangs up. The call's rows,
//! events and recording are the ones the server itself wrote.

use std::time::Duration;

use sicha_sim::openai::ChatRule;

use super::{ADMIN, PASSWORD, cheap_hash};
use crate::common::{
    AiWorld, CALLER_NUMBER, ai_world, fixture_mulaw, heard_within, line, listen, silence,
};
use sicha_sim::twilio_caller::MediaStreamClient;

pub const CALL_SID: &str = "CAbrowser1";
pub const CUSTOMER_NAME: &str = "דנה כהן";
/// What the caller says first, markup included: the page must show it as text.
pub const FIRST_LINE: &str = "ספרי לי על כל השירותים <i>בבקשה</i>";
pub const LONG_ANSWER: &str =
    "יש לנו תספורת לגברים. יש לנו תספורת לנשים. יש צבע ופסים. יש טיפולי שיער.";
/// The part of [`LONG_ANSWER`] the caller surely hears before cutting in (its mark is echoed).
pub const HEARD: &str = "יש לנו תספורת לגברים.";
pub const PRICE_ANSWER: &str = "תספורת עולה שמונים שקלים.";

/// How long the server must stay quiet for an answer to count as finished: above the gap between
/// two sentences' synthesis on a loaded machine.
const QUIET: Duration = Duration::from_millis(1200);

pub struct RealCall {
    pub world: AiWorld,
    pub customer_id: String,
    _recordings: tempfile::TempDir,
}

/// Makes the call on a fresh app over `db` (with the admin configured and recordings on), and
/// names its caller.
pub async fn real_call(db: &str) -> RealCall {
    let recordings = tempfile::tempdir().unwrap();
    let dir = recordings.path().display().to_string();
    let hash = cheap_hash(PASSWORD);
    let settings = [
        ("SICHA_ADMIN_USER", ADMIN),
        ("SICHA_ADMIN_PASSWORD_HASH", hash.as_str()),
        ("SICHA_RECORDINGS_DIR", dir.as_str()),
        // No "are you still there?" while the test listens: the page shows the same call every run.
        ("SICHA_SILENCE_PROMPT_SECS", "600"),
    ];
    let world = ai_world(db, "openai", &settings).await;
    world.openai.push_transcripts([FIRST_LINE, "רגע, רק המחיר"]);
    world
        .openai
        .add_chat_rule(ChatRule::reply("השירותים", LONG_ANSWER));
    world
        .openai
        .add_chat_rule(ChatRule::reply("המחיר", PRICE_ANSWER));

    let app = &world.app;
    let mut stream = app.connect_call(CALL_SID).await;
    listen(&mut stream, QUIET, true).await;
    stream
        .send_audio(&line("single/u03_booking.wav"))
        .await
        .unwrap();
    // The answer arrives but is still "playing": its marks are held back ...
    let answer = listen(&mut stream, QUIET, false).await;
    assert!(answer.marks.len() >= 2, "a long answer: {answer:?}");
    // ... until the first sentence has been heard, and the caller cuts in.
    stream.send_mark(&answer.marks[0]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream
        .send_audio(&fixture_mulaw("single/u05_haircut_price.wav"))
        .await
        .unwrap();
    // Silence closes the caller's line (if the fixture's own tail has not already).
    stream.send_audio(&silence(900)).await.unwrap();
    let cut = listen(&mut stream, QUIET, true).await;
    assert!(cut.clears >= 1, "the barge-in clears the answer: {cut:?}");
    // The answer to the cut-in line may come with the clear or after a pause; either way it is
    // recorded once it has played (its marks echoed).
    hear_out(&world, &mut stream, PRICE_ANSWER).await;
    stream.send_stop(CALL_SID).await.unwrap();

    let call = app
        .wait_for_call(CALL_SID, |c| {
            c.ended_at_ms.is_some() && c.recording_path.is_some()
        })
        .await;
    let customer_id = call.customer_id.expect("the caller became a customer");
    wait_for_interaction(&world, &customer_id).await;
    let customer = app
        .store
        .set_customer_name(&customer_id, Some(CUSTOMER_NAME))
        .await
        .unwrap();
    assert_eq!(customer.phone, CALLER_NUMBER);
    RealCall {
        world,
        customer_id,
        _recordings: recordings,
    }
}

/// Listens (echoing marks) until the agent's answer `text` has played and been recorded.
async fn hear_out(world: &AiWorld, stream: &mut MediaStreamClient, text: &str) {
    for _ in 0..40 {
        let turns = world.app.store.turns_for_call(CALL_SID).await.unwrap();
        if turns.iter().any(|t| t.role == "agent" && t.text == text) {
            return;
        }
        heard_within(stream, Duration::from_millis(500)).await;
    }
    panic!("the answer {text:?} was never heard out");
}

/// The interaction is written after the call row is finished; the customer page links through it.
async fn wait_for_interaction(world: &AiWorld, customer_id: &str) {
    for _ in 0..200 {
        let interactions = world
            .app
            .store
            .interactions_for_customer(customer_id)
            .await
            .unwrap();
        if interactions
            .iter()
            .any(|i| i.call_sid.as_deref() == Some(CALL_SID))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the call's interaction was never recorded");
}
