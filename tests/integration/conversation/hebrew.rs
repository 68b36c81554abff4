//! Hebrew as callers speak it, over the protocol: short real replies reach the model, a transcript
//! dropped although the caller surely spoke is answered at once, and the same words from audio too
//! faint to be sure of get silence.

use super::*;
use crate::common::heard_within;

#[tokio::test]
async fn thanks_are_answered_a_drop_on_clear_speech_is_apologised_for_and_noise_is_not() {
    for_each_engine(|db| async move {
        let w = world(&db, "openai").await;
        w.openai
            .push_transcripts(["תודה", "מתי אתם פתוחים?", "תודה", "..."]);
        w.openai
            .add_chat_rule(ChatRule::reply("פתוחים", "אנחנו פתוחים עד שש."));
        w.openai
            .add_chat_rule(ChatRule::reply("תודה", "בשמחה, יום טוב!"));
        let mut stream = w.app.connect_call("CA350").await;
        listen(&mut stream, QUIET, true).await;

        // "תודה" from audio too faint to be sure of (a line 5 dB over white noise, the first audio
        // of the call, so the endpointer learns that line's noise): Whisper's favourite invention
        // on noise, so silence.
        stream
            .send_audio(&line("noisy/u02_friday_white_5db.wav"))
            .await
            .unwrap();
        let noise = heard_within(&mut stream, Duration::from_secs(4)).await;
        assert_eq!(noise.media_bytes, 0, "{noise:?}");
        assert_eq!(w.openai.count(SimEndpoint::ChatCompletions), 0);

        stream
            .send_audio(&line("single/u01_hours.wav"))
            .await
            .unwrap();
        listen(&mut stream, QUIET, true).await;
        assert_eq!(w.openai.count(SimEndpoint::ChatCompletions), 1);

        // The same "תודה" after an answer, said clearly: the model answers it.
        stream
            .send_audio(&line("single/u05_haircut_price.wav"))
            .await
            .unwrap();
        let thanked = listen(&mut stream, QUIET, true).await;
        assert!(thanked.media_bytes > 0, "{thanked:?}");
        assert_eq!(
            w.openai.count(SimEndpoint::ChatCompletions),
            2,
            "תודה reached the model"
        );

        // Nothing usable in the transcript, but the caller surely spoke: "sorry, I didn't catch
        // that" at once, without asking the model.
        stream
            .send_audio(&line("single/u07_address.wav"))
            .await
            .unwrap();
        let apology = listen(&mut stream, QUIET, true).await;
        assert!(apology.media_bytes > 0, "{apology:?}");
        assert_eq!(w.openai.count(SimEndpoint::ChatCompletions), 2);

        stream.send_stop("CA350").await.unwrap();
        w.app
            .wait_for_call("CA350", |c| c.ended_at_ms.is_some())
            .await;
        let dropped: Vec<serde_json::Value> = w
            .app
            .store
            .events_for_call("CA350")
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "transcript_dropped")
            .filter_map(|e| e.detail)
            .collect();
        let clear: Vec<bool> = dropped.iter().map(|d| d["clear_speech"] == true).collect();
        assert_eq!(clear, [false, true], "{dropped:?}");
        w.app.shutdown().await;
    })
    .await;
}
