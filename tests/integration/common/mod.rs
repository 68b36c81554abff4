//! The real app on port 0 with a fresh database, as every integration test starts it.

mod binary;
pub mod crm;
pub mod databases;
pub mod paced;
pub mod proxy;
pub mod served;

pub use binary::{sicha_binary, sicha_err, sicha_ok};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sicha::call::session::AgentMode;
use sicha::config::Settings;
use sicha::startup::{Application, ServeOptions};
use sicha::store::{NewBusiness, Store};
use sicha::twilio::stream::Outbound;
use sicha_sim::twilio_caller::{MediaStreamClient, Received, place_call, stream_target};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

pub const AUTH_TOKEN: &str = "test-auth-token-0123456789abcdef";
pub const BUSINESS_NUMBER: &str = "+97231234567";
pub const CALLER_NUMBER: &str = "+972501234567";
/// Opens `/metrics` on a test app's main listener (see [`TestApp::scrape_metrics`]).
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

pub struct TestApp {
    pub base: Url,
    pub addr: SocketAddr,
    /// The metrics listener's address, with `SICHA_METRICS_BIND`.
    pub metrics_addr: Option<SocketAddr>,
    pub store: Store,
    pub http: reqwest::Client,
    pub auth_token: Option<String>,
    pub database_url: String,
    /// The app's stream-token key: tests issue a token the way a session does for its own reconnect.
    pub token_key: sicha::twilio::token::StreamTokenKey,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test app: port 0, the given database, signed Twilio traffic, short limits.
pub fn test_settings(database_url: &str, extra: &[(&str, &str)]) -> Settings {
    let mut values: HashMap<String, String> = [
        ("SICHA_BIND", "127.0.0.1:0"),
        ("SICHA_DATABASE_URL", database_url),
        ("SICHA_INSTANCE_ID", "test-instance"),
        ("TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ("TWILIO_ACCOUNT_SID", "ACtest0000000000000000000000000000"),
        ("SICHA_SHUTDOWN_GRACE_SECS", "1"),
        ("SICHA_LOG", "warn"),
        // Tests send audio faster than real time; the flood test sets its own limit.
        ("SICHA_MAX_WS_MESSAGES_PER_SEC", "100000"),
        // The simulated STT answers from a queue of scripted transcripts; an eager guess dropped
        // mid-line would take one. Tests of eager transcription turn it on themselves.
        ("SICHA_EAGER_STT_MS", "off"),
        ("SICHA_METRICS_TOKEN", METRICS_TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        if v.is_empty() {
            values.remove(*k);
        } else {
            values.insert(k.to_string(), v.to_string());
        }
    }
    Settings::from_values(&values).expect("test settings are valid")
}

/// Signed Twilio traffic, the echo agent: the edge without AI providers.
pub fn echo_agent() -> ServeOptions {
    ServeOptions {
        allow_unsigned: false,
        agent: AgentMode::Echo,
    }
}

pub async fn spawn_app(database_url: &str) -> TestApp {
    spawn_app_with(
        database_url,
        &[],
        ServeOptions {
            allow_unsigned: false,
            agent: AgentMode::Echo,
        },
    )
    .await
}

pub async fn spawn_app_with(
    database_url: &str,
    extra: &[(&str, &str)],
    options: ServeOptions,
) -> TestApp {
    let settings = test_settings(database_url, extra);
    let _ = sicha::telemetry::init(&settings);
    let auth_token = settings
        .twilio
        .auth_token
        .as_ref()
        .map(|t| t.expose().to_string());
    let app = Application::build(settings, options)
        .await
        .expect("the app builds");
    let addr = app.local_addr();
    let metrics_addr = app.metrics_addr();
    let store = app.state().store.clone();
    let token_key = app.state().calls.token_key.clone();
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = shutdown_rx.await;
    }));
    TestApp {
        base: Url::parse(&format!("http://{addr}/")).unwrap(),
        addr,
        metrics_addr,
        store,
        http: reqwest::Client::new(),
        auth_token,
        database_url: database_url.to_string(),
        token_key,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.base.join(path).unwrap().to_string()
    }

    pub async fn add_business(&self, number: &str) {
        add_test_business(&self.store, number).await;
    }

    /// `/metrics` of the main listener, as Prometheus text.
    pub async fn scrape_metrics(&self) -> String {
        let response = self
            .http
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// The signed voice webhook for `call_sid` (from the caller to the business): its TwiML.
    pub async fn voice_webhook(&self, call_sid: &str) -> String {
        voice_webhook_at(&self.http, &self.base, self.auth_token.as_deref(), call_sid).await
    }

    /// The voice webhook, then the signed stream socket with `connected` and `start`.
    pub async fn connect_call(&self, call_sid: &str) -> MediaStreamClient {
        connect_call_at(&self.http, &self.base, self.auth_token.as_deref(), call_sid).await
    }

    /// A fresh stream token for `call_sid`, as the call's session issues one when it moves the call
    /// to a new stream (never from the voice webhook, which gives one only to a new call).
    pub fn stream_token(&self, call_sid: &str) -> Vec<(String, String)> {
        let expires = sicha::clock::now_ms() + 60_000;
        vec![(
            sicha::http::voice::TOKEN_PARAMETER.to_string(),
            self.token_key.issue(call_sid, expires),
        )]
    }

    /// Waits until `check` holds for the call's row (records are written by other tasks).
    pub async fn wait_for_call(
        &self,
        call_sid: &str,
        check: impl Fn(&sicha::store::Call) -> bool,
    ) -> sicha::store::Call {
        for _ in 0..200 {
            if let Some(call) = self.store.call_by_sid(call_sid).await.unwrap()
                && check(&call)
            {
                return call;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "call {call_sid} never reached the expected state: {:?}",
            self.store.call_by_sid(call_sid).await
        );
    }

    /// The kinds of the call's events, in order, without the log of sentences sent to the line.
    pub async fn event_kinds(&self, call_sid: &str) -> Vec<String> {
        self.store
            .events_for_call(call_sid)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .filter(|kind| kind != sicha::store::events::AGENT_SPEAKING)
            .collect()
    }

    /// Waits until the call has an event of `kind` (written by other tasks); returns every kind.
    pub async fn wait_for_event(&self, call_sid: &str, kind: &str) -> Vec<String> {
        for _ in 0..200 {
            let kinds = self.event_kinds(call_sid).await;
            if kinds.iter().any(|k| k == kind) {
                return kinds;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "call {call_sid} never had a {kind} event: {:?}",
            self.event_kinds(call_sid).await
        );
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(20), server)
                .await
                .expect("the server stops within its grace period")
                .unwrap()
                .unwrap();
        }
    }
}

/// The repository's fixtures folder (these tests are a target of the crate in sim/, one folder down).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A fixture as μ-law bytes, the way Twilio would send it.
pub fn fixture_mulaw(relative: &str) -> Vec<u8> {
    let path = fixtures_dir().join(relative);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let audio = sicha_audio::wav::read_wav(std::io::BufReader::new(file)).unwrap();
    assert_eq!(audio.sample_rate, 8000);
    let mut codes = vec![0u8; audio.samples.len()];
    sicha_audio::mulaw::encode_into(&audio.samples, &mut codes);
    codes
}

/// `ms` of μ-law silence.
pub fn silence(ms: usize) -> Vec<u8> {
    vec![sicha_audio::mulaw::SILENCE; ms * 8]
}

/// Reads server messages until `want` matches one, returning everything seen up to it.
pub async fn recv_until(
    stream: &mut MediaStreamClient,
    want: impl Fn(&Received) -> bool,
    wait: Duration,
) -> (Vec<Received>, Option<Received>) {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match stream.recv(left).await.unwrap() {
            None => return (seen, None),
            Some(received) if want(&received) => return (seen, Some(received)),
            Some(Received::Closed(code)) => return (seen, Some(Received::Closed(code))),
            Some(other) => seen.push(other),
        }
    }
}

pub fn is_mark(received: &Received) -> bool {
    matches!(received, Received::Message(Outbound::Mark { .. }))
}

pub fn is_clear(received: &Received) -> bool {
    matches!(received, Received::Message(Outbound::Clear { .. }))
}

/// What the caller side heard while listening.
#[derive(Debug, Default)]
pub struct Heard {
    pub media_bytes: usize,
    pub marks: Vec<String>,
    pub clears: usize,
    pub closed: bool,
}

/// How long `listen` waits for the server to start speaking. Generous on purpose: speech comes from
/// espeak-ng in the simulated providers, and a loaded 2-core machine can take seconds to make it.
const FIRST_MESSAGE_WAIT: Duration = Duration::from_secs(15);

/// Waits for the server to start speaking (up to `FIRST_MESSAGE_WAIT`), then listens until it has
/// been quiet for `quiet`, echoing every mark at once (as if the audio played instantly) unless
/// `echo_marks` is false. Waiting for the first message separately keeps a slow synthesis from
/// being mistaken for silence.
pub async fn listen(stream: &mut MediaStreamClient, quiet: Duration, echo_marks: bool) -> Heard {
    let mut heard = Heard::default();
    if let Some(first) = stream.recv(FIRST_MESSAGE_WAIT).await.unwrap()
        && heard.take(stream, first, echo_marks).await
    {
        receive_until_quiet(stream, quiet, echo_marks, &mut heard).await;
    }
    heard
}

/// Everything the server sends within `window`, however long it stays quiet in between: for
/// checking that it says nothing.
pub async fn heard_within(stream: &mut MediaStreamClient, window: Duration) -> Heard {
    let mut heard = Heard::default();
    let deadline = tokio::time::Instant::now() + window;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(received) = stream.recv(left).await.unwrap() else {
            return heard;
        };
        if !heard.take(stream, received, true).await {
            return heard;
        }
    }
}

async fn receive_until_quiet(
    stream: &mut MediaStreamClient,
    quiet: Duration,
    echo_marks: bool,
    heard: &mut Heard,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let Some(received) = stream.recv(quiet).await.unwrap() else {
            return;
        };
        if !heard.take(stream, received, echo_marks).await {
            return;
        }
    }
}

impl Heard {
    /// Counts one message; false once the socket has closed.
    async fn take(
        &mut self,
        stream: &mut MediaStreamClient,
        received: Received,
        echo_marks: bool,
    ) -> bool {
        match received {
            Received::Closed(_) => {
                self.closed = true;
                return false;
            }
            Received::Message(Outbound::Media { media, .. }) => {
                use base64::Engine;
                self.media_bytes += base64::engine::general_purpose::STANDARD
                    .decode(media.payload)
                    .unwrap()
                    .len();
            }
            Received::Message(Outbound::Mark { mark, .. }) => {
                if echo_marks {
                    stream.send_mark(&mark.name).await.unwrap();
                }
                self.marks.push(mark.name);
            }
            Received::Message(Outbound::Clear { .. }) => self.clears += 1,
        }
        true
    }
}

/// A test app in AI mode with the simulated OpenAI-compatible server and the Twilio REST stand-in,
/// and the test business added.
pub struct AiWorld {
    pub app: TestApp,
    pub openai: sicha_sim::openai::OpenAiSim,
    pub twilio: sicha_sim::twilio_api::TwilioApiSim,
}

impl AiWorld {
    /// The last message of each chat request the model was sent, in order: what each answer was
    /// started on.
    pub fn chats(&self) -> Vec<String> {
        self.openai
            .requests()
            .into_iter()
            .filter(|r| r.endpoint == sicha_sim::openai::SimEndpoint::ChatCompletions)
            .map(|r| {
                let messages = r.json.as_ref().unwrap()["messages"]
                    .as_array()
                    .unwrap()
                    .clone();
                messages.last().unwrap()["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }
}

/// [`AiWorld`] with `tts` as the TTS chain and `more` settings on top.
pub async fn ai_world(db: &str, tts: &str, more: &[(&str, &str)]) -> AiWorld {
    use sicha_sim::openai::{OpenAiSim, SimProfile};
    let openai = OpenAiSim::start(SimProfile::instant()).await.unwrap();
    ai_world_on(db, openai, tts, more).await
}

/// [`ai_world`] with a simulated OpenAI server set up by the test before the app starts (the app
/// synthesises its phrases as soon as it is built).
pub async fn ai_world_on(
    db: &str,
    openai: sicha_sim::openai::OpenAiSim,
    tts: &str,
    more: &[(&str, &str)],
) -> AiWorld {
    let twilio = sicha_sim::twilio_api::TwilioApiSim::start_with(
        "ACtest0000000000000000000000000000",
        AUTH_TOKEN,
    )
    .await
    .unwrap();
    let (openai_base, twilio_base) = (openai.base_url().to_string(), twilio.base_url().to_string());
    let mut settings = vec![
        ("OPENAI_BASE_URL", openai_base.as_str()),
        ("TWILIO_API_BASE", twilio_base.as_str()),
        ("SICHA_TTS", tts),
    ];
    settings.extend_from_slice(more);
    let options = ServeOptions {
        allow_unsigned: false,
        agent: AgentMode::Ai,
    };
    let app = spawn_app_with(db, &settings, options).await;
    app.add_business(BUSINESS_NUMBER).await;
    AiWorld {
        app,
        openai,
        twilio,
    }
}

/// One caller line: the fixture's speech, then silence for the endpointer to close it.
pub fn line(fixture: &str) -> Vec<u8> {
    let mut audio = fixture_mulaw(fixture);
    audio.extend(silence(900));
    audio
}

/// The signed voice webhook of a call from [`CALLER_NUMBER`] to [`BUSINESS_NUMBER`] at the server
/// on `base`; its TwiML.
pub async fn voice_webhook_at(
    http: &reqwest::Client,
    base: &Url,
    auth_token: Option<&str>,
    call_sid: &str,
) -> String {
    let answer = place_call(
        http,
        base,
        auth_token,
        call_sid,
        CALLER_NUMBER,
        BUSINESS_NUMBER,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.twiml);
    answer.twiml
}

/// The voice webhook at the server on `base`, then the signed stream socket with `connected` and
/// `start`.
pub async fn connect_call_at(
    http: &reqwest::Client,
    base: &Url,
    auth_token: Option<&str>,
    call_sid: &str,
) -> MediaStreamClient {
    let twiml = voice_webhook_at(http, base, auth_token, call_sid).await;
    let target = stream_target(&twiml).unwrap();
    let mut stream = MediaStreamClient::connect(&target.url, auth_token, &format!("MZ{call_sid}"))
        .await
        .unwrap();
    stream.send_connected().await.unwrap();
    stream
        .send_start(call_sid, &target.parameters)
        .await
        .unwrap();
    stream
}

/// The tests' barber shop on `number` (its name has markup characters, to test escaping), added to
/// `store`.
pub async fn add_test_business(store: &Store, number: &str) -> sicha::store::Business {
    store
        .create_business(
            &NewBusiness {
                number: number.to_string(),
                name: "מספרת <דני> & בניו".to_string(),
                greeting: "שלום, הגעתם למספרה של דני. במה אפשר לעזור?".to_string(),
                system_prompt: "את עוזרת טלפונית של מספרה.".to_string(),
                voice: None,
                transfer_to: Some("+972529999999".to_string()),
                dtmf_map: None,
                sms_policy: None,
                preemptive_replies: None,
                tools: None,
                opening_hours: None,
            },
            sicha::clock::now_ms(),
        )
        .await
        .expect("business added")
}
