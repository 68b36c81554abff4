//! A call's recording: streamed whole or by byte range to a signed-in user, found by call id only.

use crate::common::databases::for_each_engine;

use crate::common::TestApp;
use crate::web_support::{plain_client, recorded_call, seed, sign_in, web_app};

/// A GET of `path` with the session cookie and an optional `Range`.
async fn fetch(app: &TestApp, cookie: &str, path: &str, range: Option<&str>) -> reqwest::Response {
    let mut request = plain_client().get(app.url(path)).header("cookie", cookie);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    request.send().await.unwrap()
}

fn header<'r>(response: &'r reqwest::Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_recording_is_ogg_for_a_signed_in_user_and_seekable() {
    for_each_engine(|db| async move {
        let app = web_app(&db, &[]).await;
        let dir = tempfile::tempdir().unwrap();
        let world = seed(&app, dir.path()).await;
        let cookie = sign_in(&app).await;
        let whole = fetch(&app, &cookie, "/calls/CAweb1/recording", None).await;
        assert_eq!(whole.status(), 200);
        assert_eq!(header(&whole, "content-type"), "audio/ogg");
        assert_eq!(header(&whole, "cache-control"), "no-store");
        assert_eq!(header(&whole, "accept-ranges"), "bytes");
        let audio = std::fs::read(&world.recording).unwrap();
        assert_eq!(header(&whole, "content-length"), audio.len().to_string());
        assert_eq!(whole.bytes().await.unwrap(), audio);
        assert!(audio.starts_with(b"OggS"));

        let part = fetch(&app, &cookie, "/calls/CAweb1/recording", Some("bytes=4-9")).await;
        assert_eq!(part.status(), 206);
        assert_eq!(
            header(&part, "content-range"),
            format!("bytes 4-9/{}", audio.len())
        );
        assert_eq!(part.bytes().await.unwrap(), audio[4..10]);

        for sid in ["CAweb2", "CAnope", "..%2F..%2Fetc%2Fpasswd"] {
            let path = format!("/calls/{sid}/recording");
            assert_eq!(
                fetch(&app, &cookie, &path, None).await.status(),
                404,
                "{sid}"
            );
        }
        app.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn ranges_of_a_long_recording_are_streamed_from_the_file() {
    for_each_engine(|db| async move {
        let app = web_app(&db, &[]).await;
        let dir = tempfile::tempdir().unwrap();
        seed(&app, dir.path()).await;
        // Several read chunks long, and no two chunks alike, so a misplaced chunk shows.
        let mut audio = b"OggS".to_vec();
        audio.extend((0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        let total = audio.len();
        let path = dir.path().join("long.opus");
        std::fs::write(&path, &audio).unwrap();
        recorded_call(&app, "CAlong", &path).await;
        let cookie = sign_in(&app).await;
        let url = "/calls/CAlong/recording";

        let whole = fetch(&app, &cookie, url, None).await;
        assert_eq!(whole.status(), 200);
        assert_eq!(
            whole.bytes().await.unwrap(),
            audio,
            "the whole file, in order"
        );

        let cases = [
            ("bytes=0-3", 0, 3, "the first bytes"),
            ("bytes=-1000", total - 1000, total - 1, "a suffix"),
            ("bytes=250000-", 250_000, total - 1, "open-ended"),
            ("bytes=70000-140000", 70_000, 140_000, "across chunks"),
            (
                "bytes=299000-999999",
                299_000,
                total - 1,
                "an end past the file",
            ),
            (
                "bytes=-999999",
                0,
                total - 1,
                "a suffix longer than the file",
            ),
        ];
        for (range, start, end, what) in cases {
            let part = fetch(&app, &cookie, url, Some(range)).await;
            assert_eq!(part.status(), 206, "{what}");
            assert_eq!(
                header(&part, "content-range"),
                format!("bytes {start}-{end}/{total}"),
                "{what}"
            );
            assert_eq!(
                header(&part, "content-length"),
                (end - start + 1).to_string(),
                "{what}"
            );
            assert_eq!(part.bytes().await.unwrap(), audio[start..=end], "{what}");
        }

        for range in [
            format!("bytes={total}-"),
            format!("bytes={}-{}", total + 10, total + 20),
            "bytes=-0".to_string(),
        ] {
            let refused = fetch(&app, &cookie, url, Some(&range)).await;
            assert_eq!(refused.status(), 416, "{range}");
            assert_eq!(
                header(&refused, "content-range"),
                format!("bytes */{total}")
            );
            assert!(refused.bytes().await.unwrap().is_empty());
        }
        // A range this server cannot read is ignored: the whole file.
        for range in ["seconds=1-2", "bytes=9-3", "bytes=x-"] {
            let ignored = fetch(&app, &cookie, url, Some(range)).await;
            assert_eq!(ignored.status(), 200, "{range}");
            assert_eq!(ignored.bytes().await.unwrap().len(), total, "{range}");
        }

        // The file gone from disk: not found, not an error page.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(fetch(&app, &cookie, url, None).await.status(), 404);
        app.shutdown().await;
    })
    .await;
}
