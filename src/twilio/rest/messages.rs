//! Messages: send an SMS, read the list of messages between two numbers page by page, and search it
//! for a text an earlier, unanswered request may already have created.
//!
//! Why the search reads every page instead of filtering by `DateSent`: Twilio filters on
//! `date_sent`, which stays null while a message waits in Twilio's queue, so the filter would hide
//! exactly the message a lost answer leaves behind. Between one business number and one customer
//! there are few messages, so reading them all (up to a bound) is cheap.

use reqwest::Method;
use url::Url;

use super::{MessagePage, MessageResource, Repeat, TwilioClient, TwilioError};

/// Twilio refuses longer SMS bodies.
pub const MAX_SMS_CHARS: usize = 1600;

/// What Twilio puts in front of every body sent from a trial account.
const TRIAL_PREFIX: &str = "Sent from your Twilio trial account - ";

/// A search for a text already at Twilio: same To, From and body, created at or after a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSearch<'a> {
    pub to: &'a str,
    pub from: &'a str,
    pub body: &'a str,
    /// Epoch ms; a message Twilio created earlier is not the one searched for.
    pub created_since_ms: i64,
    /// Messages per page (Twilio allows 1 to 1000).
    pub page_size: u32,
    /// Pages read before giving up with [`MessageSearch::TooMany`].
    pub max_pages: u32,
}

impl<'a> SmsSearch<'a> {
    /// Full pages, at most five of them: thousands of messages between two numbers.
    pub fn new(to: &'a str, from: &'a str, body: &'a str, created_since_ms: i64) -> Self {
        Self {
            to,
            from,
            body,
            created_since_ms,
            page_size: 1_000,
            max_pages: 5,
        }
    }
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageSearch {
    Found(Box<MessageResource>),
    /// Every page was read and none matched.
    NotFound,
    /// More pages than the search may read: the answer is unknown.
    TooMany,
}

impl TwilioClient {
    /// Sends an SMS: one request, repeated within this call only when Twilio provably did not take
    /// it (see [`super::Acceptance`]), since Twilio's Messages API has no idempotency key.
    pub async fn send_sms(
        &self,
        to: &str,
        from: &str,
        body: &str,
    ) -> Result<MessageResource, TwilioError> {
        let chars = body.chars().count();
        if chars > MAX_SMS_CHARS {
            return Err(TwilioError::InvalidInput(format!(
                "SMS body has {chars} characters; Twilio accepts at most {MAX_SMS_CHARS}"
            )));
        }
        if body.trim().is_empty() || to.trim().is_empty() || from.trim().is_empty() {
            return Err(TwilioError::InvalidInput(
                "SMS needs a body, a To and a From".into(),
            ));
        }
        let url = self.messages_url()?;
        let form = [("To", to), ("From", from), ("Body", body)];
        self.send(Method::POST, url, &form, Repeat::IfNotAccepted)
            .await
    }

    /// The first page of messages sent from `from` to `to`, newest first.
    pub async fn list_messages(
        &self,
        to: &str,
        from: &str,
        page_size: u32,
    ) -> Result<MessagePage, TwilioError> {
        let mut url = self.messages_url()?;
        url.query_pairs_mut()
            .append_pair("To", to)
            .append_pair("From", from)
            .append_pair("PageSize", &page_size.clamp(1, 1_000).to_string());
        self.send(Method::GET, url, &[], Repeat::Safe).await
    }

    /// The page after `page`, or `None` on the last page.
    pub async fn next_messages_page(
        &self,
        page: &MessagePage,
    ) -> Result<Option<MessagePage>, TwilioError> {
        let Some(uri) = page.next_page_uri.as_deref() else {
            return Ok(None);
        };
        let url = self.messages_page_url(uri)?;
        Ok(Some(self.send(Method::GET, url, &[], Repeat::Safe).await?))
    }

    /// Looks for a text matching `search` among the messages Twilio has.
    pub async fn find_sms(&self, search: &SmsSearch<'_>) -> Result<MessageSearch, TwilioError> {
        let mut page = self
            .list_messages(search.to, search.from, search.page_size)
            .await?;
        for read in 1.. {
            if let Some(found) = page
                .messages
                .iter()
                .find(|message| matches(message, search))
            {
                return Ok(MessageSearch::Found(Box::new(found.clone())));
            }
            if page.next_page_uri.is_none() {
                break;
            }
            if read >= search.max_pages {
                return Ok(MessageSearch::TooMany);
            }
            match self.next_messages_page(&page).await? {
                Some(next) => page = next,
                None => break,
            }
        }
        Ok(MessageSearch::NotFound)
    }

    fn messages_url(&self) -> Result<Url, TwilioError> {
        self.endpoint(&["Accounts", &self.account_sid, "Messages.json"])
    }

    /// The URL of a `next_page_uri`. Twilio writes it from the host's root (`/2010-04-01/Accounts/…/
    /// Messages.json?…&PageToken=…`); only its query is taken, on our own list URL, so a page link
    /// can neither leave the configured host nor drop a path prefix in front of the version.
    pub(super) fn messages_page_url(&self, uri: &str) -> Result<Url, TwilioError> {
        let mut url = self.messages_url()?;
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let resource = format!("/Accounts/{}/Messages.json", self.account_sid);
        if !path.ends_with(&resource) || !url.path().ends_with(path) {
            return Err(TwilioError::Decode(format!(
                "a next page outside this account's messages: `{path}`"
            )));
        }
        url.set_query(Some(query));
        Ok(url)
    }
}

/// Whether a listed message is the text searched for. A trial account's prefix is allowed so the
/// search works on trial accounts too.
pub(super) fn matches(message: &MessageResource, search: &SmsSearch<'_>) -> bool {
    let same_text = message.body.as_deref().is_some_and(|listed| {
        listed == search.body || listed.strip_prefix(TRIAL_PREFIX) == Some(search.body)
    });
    let same_route =
        message.to.as_deref() == Some(search.to) && message.from.as_deref() == Some(search.from);
    let recent = message
        .created_at_ms()
        .is_some_and(|created| created >= search.created_since_ms);
    same_text && same_route && recent
}
