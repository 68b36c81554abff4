//! A whole simulated world for a sicha server to live in: the OpenAI-compatible stand-in (speech to
//! text, chat, speech) with a latency profile, the Twilio REST stand-in, a fresh auth token, and the
//! settings that point a server at them. `sicha demo` runs the server in-process with these
//! settings; `sicha bench` hands the same values to a child `sicha serve` as its environment.

use std::collections::HashMap;

use url::Url;

use super::booking_api::BookingApiSim;
use super::openai::{OpenAiSim, SimProfile};
use super::scenario::demo_business;
use super::twilio_api::TwilioApiSim;
use sicha::cli::business::add_business;
use sicha::store::{BusinessChanges, NewBusiness, Store, StoreError};

/// The Twilio account the stand-ins and the server agree on.
pub const SIM_ACCOUNT_SID: &str = "ACsimworld0000000000000000000000000";

/// The stand-ins; they serve for as long as this value lives.
pub struct SimWorld {
    pub openai: OpenAiSim,
    pub twilio: TwilioApiSim,
    /// Signs the simulated caller's requests and authenticates the server to the REST stand-in.
    pub auth_token: String,
}

impl SimWorld {
    /// Starts both stand-ins on ephemeral ports of 127.0.0.1.
    pub async fn start(profile: SimProfile) -> std::io::Result<Self> {
        let auth_token = uuid::Uuid::new_v4().simple().to_string();
        let openai = OpenAiSim::start(profile).await?;
        let twilio = TwilioApiSim::start_with(SIM_ACCOUNT_SID, &auth_token).await?;
        Ok(Self {
            openai,
            twilio,
            auth_token,
        })
    }

    /// Settings for a server that uses only these stand-ins and `database_url`, by their
    /// environment names. Nothing else is taken from the environment: a real key there must never
    /// be used, or shown. `extra` adds or overrides values (bind address, VAD, limits).
    pub fn server_values(
        &self,
        database_url: &str,
        instance_id: &str,
        extra: &[(&str, &str)],
    ) -> HashMap<String, String> {
        let openai = self.openai.base_url();
        let twilio = self.twilio.base_url();
        let base = [
            ("SICHA_BIND", "127.0.0.1:0"),
            ("SICHA_DATABASE_URL", database_url),
            ("SICHA_INSTANCE_ID", instance_id),
            ("TWILIO_ACCOUNT_SID", SIM_ACCOUNT_SID),
            ("TWILIO_AUTH_TOKEN", self.auth_token.as_str()),
            ("TWILIO_API_BASE", twilio.as_str()),
            ("OPENAI_BASE_URL", openai.as_str()),
            ("SICHA_TTS", "openai,espeak"),
            ("SICHA_SHUTDOWN_GRACE_SECS", "2"),
        ];
        base.iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// Adds the demo business (the barber's shop every simulated call dials) unless it is there, as
/// `sicha business add` would.
pub async fn ensure_demo_business(database_url: &str) -> Result<(), StoreError> {
    add_business_unless_there(database_url, &demo_business::spec()).await
}

/// Adds `business` unless one has its number already, as `sicha business add` would.
pub async fn add_business_unless_there(
    database_url: &str,
    business: &NewBusiness,
) -> Result<(), StoreError> {
    let store = Store::connect(database_url).await?;
    let found = store.business_by_number(&business.number).await;
    let result = match found {
        Ok(Some(_)) => Ok(()),
        Ok(None) => add_business(&store, business).await.map(|_| ()),
        Err(error) => Err(error),
    };
    store.close().await;
    result
}

/// Gives the business on `number` the tools of its booking system, as `sicha business update
/// --tools-file` would, and has the booking system trust the secret its requests are signed with.
pub async fn give_booking_tools(
    store: &Store,
    number: &str,
    booking: &BookingApiSim,
) -> Result<(), StoreError> {
    let changes = BusinessChanges {
        tools: Some(Some(booking.tools())),
        ..BusinessChanges::default()
    };
    let business = store
        .update_business(number, &changes, sicha::clock::now_ms())
        .await?;
    if let Some(secret) = business.tools_secret {
        booking.trust(&secret);
    }
    Ok(())
}

/// [`give_booking_tools`] for the demo business in the database at `database_url`.
pub async fn give_demo_business_its_tools(
    database_url: &str,
    booking: &BookingApiSim,
) -> Result<(), StoreError> {
    let store = Store::connect(database_url).await?;
    let result = give_booking_tools(&store, demo_business::NUMBER, booking).await;
    store.close().await;
    result
}

/// The server's origin as the caller uses it.
pub fn origin_url(address: std::net::SocketAddr) -> Url {
    Url::parse(&format!("http://{address}/")).expect("a socket address makes a URL")
}
