//! `/readyz`: what a load balancer asks before sending calls. It must answer at once when the
//! database does not (never hang with it), and a fresh instance is ready only once its fixed
//! phrases are synthesised, or after a bounded wait when the TTS cannot make them.

use std::time::{Duration, Instant};

use crate::common;

use crate::common::databases::{for_each_engine, hold_every_connection};
use common::{ai_world_on, spawn_app};
use sicha_sim::openai::{OpenAiSim, SimEndpoint, SimProfile};

/// The status of `/readyz` and how long it took to answer.
async fn ready(app: &common::TestApp) -> (u16, Duration) {
    let started = Instant::now();
    let response = app
        .http
        .get(app.url("/readyz"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), started.elapsed())
}

#[tokio::test]
async fn readiness_answers_503_at_once_while_the_database_does_not_answer() {
    for_each_engine(|db| async move {
        let app = spawn_app(&db).await;
        assert_eq!(ready(&app).await.0, 200);
        let outage = hold_every_connection(&app.store).await;
        let (status, took) = ready(&app).await;
        assert_eq!(status, 503);
        assert!(
            took < Duration::from_millis(1500),
            "answered after {took:?}"
        );
        drop(outage);
        assert_eq!(ready(&app).await.0, 200, "ready again once it answers");
        app.shutdown().await;
    })
    .await;
}

/// The seven fixed phrases of the agent (filler, apology, goodbye…).
const FIXED_PHRASES: usize = sicha::call::agent::phrases::ALL.len();

#[tokio::test]
async fn a_fresh_instance_is_ready_only_once_its_phrases_are_synthesised() {
    for_each_engine(|db| async move {
        let mut profile = SimProfile::instant();
        profile.tts_ttfb_ms = 150;
        let openai = OpenAiSim::start(profile).await.unwrap();
        openai.set_espeak(false);
        let world = ai_world_on(&db, openai, "openai", &[]).await;
        // The first answer comes while the phrases are still being made (7 × 150 ms at least).
        let (first, _) = ready(&world.app).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut status = first;
        while status != 200 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            status = ready(&world.app).await.0;
        }
        let synthesised = world.openai.count(SimEndpoint::Speech);
        assert_eq!(first, 503, "not ready before the phrases are made");
        assert_eq!(status, 200);
        assert!(
            synthesised >= FIXED_PHRASES,
            "ready after {synthesised} of {FIXED_PHRASES} phrases"
        );
        world.app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_hanging_tts_keeps_a_fresh_instance_out_only_for_the_warm_up_wait() {
    for_each_engine(|db| async move {
        let mut hanging = SimProfile::instant();
        hanging.tts_ttfb_ms = 600_000;
        let openai = OpenAiSim::start(hanging).await.unwrap();
        let started = Instant::now();
        let world = ai_world_on(&db, openai, "openai", &[("SICHA_WARM_UP_WAIT_SECS", "1")]).await;
        let (first, _) = ready(&world.app).await;
        let mut status = first;
        while status != 200 && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            status = ready(&world.app).await.0;
        }
        assert_eq!(first, 503);
        assert_eq!(status, 200, "ready anyway after the wait");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        world.app.shutdown().await;
    })
    .await;
}
