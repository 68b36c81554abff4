//! Businesses: one per Twilio number, with what the agent says and how it behaves.

mod dtmf_map;
mod e164;
mod opening_hours;
mod sms_policy;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};
use crate::business_tools::{BusinessTools, ToolsSecret};

pub use dtmf_map::{DtmfAction, DtmfMap, DtmfMapError};
pub use e164::{E164Error, validate_e164};
pub use opening_hours::{OpeningHours, OpeningHoursError};
pub use sms_policy::{MAX_SMS_CHARS, MAX_SMS_PER_CALL_LIMIT, SmsPolicy, SmsPolicyError};

/// A business answering on one Twilio number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Business {
    pub id: String,
    /// The Twilio number in E.164, e.g. `+97231234567`.
    pub number: String,
    pub name: String,
    /// Played at once when the call connects.
    pub greeting: String,
    pub system_prompt: String,
    /// The TTS voice; `None` uses the server's default.
    pub voice: Option<String>,
    /// Where a caller asking for a person is transferred, in E.164.
    pub transfer_to: Option<String>,
    /// What each key the caller presses does (stored NULL: [`DtmfMap::default`]).
    pub dtmf_map: DtmfMap,
    /// Whether the agent may text callers, and what; `None`: it may not.
    pub sms_policy: Option<SmsPolicy>,
    /// Start answering on an eager transcript, the audio held until the turn is confirmed (on unless
    /// turned off).
    pub preemptive_replies: bool,
    /// The tools the business declared, if any.
    pub tools: Option<BusinessTools>,
    /// Signs every request to the business's tools; present whenever `tools` is. Made when the
    /// business first gets tools, kept while they change or are cleared, replaced only on request.
    pub tools_secret: Option<ToolsSecret>,
    /// When a promised call-back may be placed (stored NULL: [`OpeningHours::default`]).
    pub opening_hours: OpeningHours,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[cfg(test)]
impl Business {
    /// A barber shop with every setting at its default, for tests to change what they test.
    pub fn example() -> Self {
        Self {
            id: "b1".into(),
            number: "+97231234567".into(),
            name: "המספרה".into(),
            greeting: "שלום".into(),
            system_prompt: String::new(),
            voice: None,
            transfer_to: None,
            dtmf_map: DtmfMap::default(),
            sms_policy: None,
            preemptive_replies: true,
            tools: None,
            tools_secret: None,
            opening_hours: OpeningHours::default(),
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBusiness {
    pub number: String,
    pub name: String,
    pub greeting: String,
    pub system_prompt: String,
    pub voice: Option<String>,
    pub transfer_to: Option<String>,
    /// `None` keeps the default map.
    pub dtmf_map: Option<DtmfMap>,
    /// `None`: the agent does not text callers.
    pub sms_policy: Option<SmsPolicy>,
    /// `None`: the default (on).
    pub preemptive_replies: Option<bool>,
    /// Given tools come with a new tools secret.
    pub tools: Option<BusinessTools>,
    /// `None`: the default hours.
    pub opening_hours: Option<OpeningHours>,
}

/// What to change; `None` keeps the current value. For `voice`, `transfer_to` and `tools`,
/// `Some(None)` clears the value; for `dtmf_map`, `Some(None)` goes back to the default map; for
/// `sms_policy`, `Some(None)` stops the agent texting; for `opening_hours`, `Some(None)` goes back to
/// the default hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusinessChanges {
    pub name: Option<String>,
    pub greeting: Option<String>,
    pub system_prompt: Option<String>,
    pub voice: Option<Option<String>>,
    pub transfer_to: Option<Option<String>>,
    pub dtmf_map: Option<Option<DtmfMap>>,
    pub sms_policy: Option<Option<SmsPolicy>>,
    pub preemptive_replies: Option<bool>,
    /// New tools keep the business's tools secret, or get one if it has none yet.
    pub tools: Option<Option<BusinessTools>>,
    /// Replace the tools secret with a new one: requests signed with the old one stop verifying.
    pub rotate_tools_secret: bool,
    pub opening_hours: Option<Option<OpeningHours>>,
}

/// Every business column, in the order statements write and return them.
macro_rules! business_columns {
    () => {
        "id, number, name, greeting, system_prompt, voice, transfer_to, dtmf_map, sms_policy, \
         preemptive_replies, created_at_ms, updated_at_ms, tools, tools_secret, opening_hours"
    };
}

/// A SELECT of every business column followed by `$tail`, as one static string.
macro_rules! select_businesses {
    ($tail:literal) => {
        concat!("SELECT ", business_columns!(), " FROM businesses ", $tail)
    };
}

/// A nullable text column read through `parse`; text that does not parse is [`StoreError::Corrupt`].
fn parsed_column<T, E: std::fmt::Display>(
    row: &AnyRow,
    column: &str,
    what: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.as_deref()
        .map(parse)
        .transpose()
        .map_err(|error| StoreError::Corrupt {
            what,
            reason: error.to_string(),
        })
}

fn business_from_row(row: &AnyRow) -> Result<Business, StoreError> {
    let dtmf_map = parsed_column(row, "dtmf_map", "business key map", str::parse::<DtmfMap>)?
        .unwrap_or_default();
    let sms_policy = parsed_column(
        row,
        "sms_policy",
        "business SMS policy",
        SmsPolicy::from_json,
    )?;
    let tools = parsed_column(
        row,
        "tools",
        "business tools",
        BusinessTools::from_canonical_json,
    )?;
    let tools_secret = parsed_column(
        row,
        "tools_secret",
        "business tools secret",
        ToolsSecret::parse,
    )?;
    let opening_hours = parsed_column(
        row,
        "opening_hours",
        "business opening hours",
        str::parse::<OpeningHours>,
    )?
    .unwrap_or_default();
    if tools.is_some() && tools_secret.is_none() {
        return Err(StoreError::Corrupt {
            what: "business tools secret",
            reason: "the business has tools but no secret to sign their requests".into(),
        });
    }
    Ok(Business {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        name: row.try_get("name")?,
        greeting: row.try_get("greeting")?,
        system_prompt: row.try_get("system_prompt")?,
        voice: row.try_get("voice")?,
        transfer_to: row.try_get("transfer_to")?,
        dtmf_map,
        sms_policy,
        preemptive_replies: row
            .try_get::<Option<i64>, _>("preemptive_replies")?
            .is_none_or(|on| on != 0),
        tools,
        tools_secret,
        opening_hours,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

fn check_numbers(number: &str, transfer_to: Option<&str>) -> Result<(), StoreError> {
    let invalid = |error: E164Error| StoreError::Invalid {
        what: "phone number",
        reason: error.to_string(),
    };
    validate_e164(number).map_err(invalid)?;
    transfer_to
        .map(validate_e164)
        .transpose()
        .map_err(invalid)?;
    Ok(())
}

impl Store {
    /// Adds a business, created and updated at `now_ms`. A number already taken is
    /// [`StoreError::Duplicate`].
    pub async fn create_business(
        &self,
        new: &NewBusiness,
        now_ms: i64,
    ) -> Result<Business, StoreError> {
        check_numbers(&new.number, new.transfer_to.as_deref())?;
        // The conflict is answered by the insert itself, so two racing adds cannot both succeed.
        let row = sqlx::query(concat!(
            "INSERT INTO businesses (",
            business_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14) \
             ON CONFLICT (number) DO NOTHING RETURNING ",
            business_columns!(),
        ))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&new.number)
        .bind(&new.name)
        .bind(&new.greeting)
        .bind(&new.system_prompt)
        .bind(new.voice.as_deref())
        .bind(new.transfer_to.as_deref())
        .bind(new.dtmf_map.as_ref().map(DtmfMap::to_string))
        .bind(new.sms_policy.as_ref().map(SmsPolicy::to_json))
        .bind(new.preemptive_replies.map(i64::from))
        .bind(now_ms)
        .bind(new.tools.as_ref().map(BusinessTools::to_canonical_json))
        .bind(
            new.tools
                .as_ref()
                .map(|_| ToolsSecret::generate().expose().to_string()),
        )
        .bind(new.opening_hours.as_ref().map(OpeningHours::to_string))
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => business_from_row(&row),
            None => Err(StoreError::Duplicate {
                what: "business with number",
                key: new.number.clone(),
            }),
        }
    }

    pub async fn business_by_number(&self, number: &str) -> Result<Option<Business>, StoreError> {
        let row = sqlx::query(select_businesses!("WHERE number = $1"))
            .bind(number)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(business_from_row).transpose()
    }

    pub async fn business_by_id(&self, id: &str) -> Result<Option<Business>, StoreError> {
        let row = sqlx::query(select_businesses!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(business_from_row).transpose()
    }

    /// Every business, by number.
    pub async fn list_businesses(&self) -> Result<Vec<Business>, StoreError> {
        let rows = sqlx::query(select_businesses!("ORDER BY number"))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(business_from_row).collect()
    }

    /// Applies `changes` to the business on `number`; an unknown number is [`StoreError::NotFound`].
    pub async fn update_business(
        &self,
        number: &str,
        changes: &BusinessChanges,
        now_ms: i64,
    ) -> Result<Business, StoreError> {
        let transfer_to = changes.transfer_to.as_ref().and_then(Option::as_deref);
        check_numbers(number, transfer_to)?;
        // Each optional column comes with a flag saying whether to overwrite it, so one
        // statement covers every combination of changes and clearing is possible. A fresh tools
        // secret is always bound and used only on rotation or for a business getting tools without
        // having a secret yet: deciding in the statement keeps a racing update from making two.
        let row = sqlx::query(concat!(
            "UPDATE businesses SET \
             name = CASE WHEN $2 = 1 THEN $3 ELSE name END, \
             greeting = CASE WHEN $4 = 1 THEN $5 ELSE greeting END, \
             system_prompt = CASE WHEN $6 = 1 THEN $7 ELSE system_prompt END, \
             voice = CASE WHEN $8 = 1 THEN $9 ELSE voice END, \
             transfer_to = CASE WHEN $10 = 1 THEN $11 ELSE transfer_to END, \
             dtmf_map = CASE WHEN $12 = 1 THEN $13 ELSE dtmf_map END, \
             sms_policy = CASE WHEN $14 = 1 THEN $15 ELSE sms_policy END, \
             preemptive_replies = CASE WHEN $16 = 1 THEN $17 ELSE preemptive_replies END, \
             tools = CASE WHEN $19 = 1 THEN $20 ELSE tools END, \
             tools_secret = CASE WHEN $21 = 1 THEN $22 \
                 WHEN $19 = 1 AND $20 IS NOT NULL AND tools_secret IS NULL THEN $22 \
                 ELSE tools_secret END, \
             opening_hours = CASE WHEN $23 = 1 THEN $24 ELSE opening_hours END, \
             updated_at_ms = $18 \
             WHERE number = $1 \
             RETURNING ",
            business_columns!(),
        ))
        .bind(number)
        .bind(i64::from(changes.name.is_some()))
        .bind(changes.name.as_deref())
        .bind(i64::from(changes.greeting.is_some()))
        .bind(changes.greeting.as_deref())
        .bind(i64::from(changes.system_prompt.is_some()))
        .bind(changes.system_prompt.as_deref())
        .bind(i64::from(changes.voice.is_some()))
        .bind(changes.voice.as_ref().and_then(Option::as_deref))
        .bind(i64::from(changes.transfer_to.is_some()))
        .bind(transfer_to)
        .bind(i64::from(changes.dtmf_map.is_some()))
        .bind(
            changes
                .dtmf_map
                .as_ref()
                .and_then(Option::as_ref)
                .map(DtmfMap::to_string),
        )
        .bind(i64::from(changes.sms_policy.is_some()))
        .bind(
            changes
                .sms_policy
                .as_ref()
                .and_then(Option::as_ref)
                .map(SmsPolicy::to_json),
        )
        .bind(i64::from(changes.preemptive_replies.is_some()))
        .bind(changes.preemptive_replies.map(i64::from))
        .bind(now_ms)
        .bind(i64::from(changes.tools.is_some()))
        .bind(
            changes
                .tools
                .as_ref()
                .and_then(Option::as_ref)
                .map(BusinessTools::to_canonical_json),
        )
        .bind(i64::from(changes.rotate_tools_secret))
        .bind(ToolsSecret::generate().expose().to_string())
        .bind(i64::from(changes.opening_hours.is_some()))
        .bind(
            changes
                .opening_hours
                .as_ref()
                .and_then(Option::as_ref)
                .map(OpeningHours::to_string),
        )
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => business_from_row(&row),
            None => Err(StoreError::NotFound {
                what: "business with number",
                key: number.to_string(),
            }),
        }
    }
}
