//! Businesses: one per Twilio number, with what the agent says and how it behaves.

use std::fmt;
use std::str::FromStr;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

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
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
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
    pub now_ms: i64,
}

/// What to change; `None` keeps the current value. For `voice` and `transfer_to`,
/// `Some(None)` clears the value; for `dtmf_map`, `Some(None)` goes back to the default map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusinessChanges {
    pub name: Option<String>,
    pub greeting: Option<String>,
    pub system_prompt: Option<String>,
    pub voice: Option<Option<String>>,
    pub transfer_to: Option<Option<String>>,
    pub dtmf_map: Option<Option<DtmfMap>>,
}

/// What pressing a key does during an AI call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfAction {
    /// Hand the call to the business's transfer number.
    Transfer,
    /// Record that the caller wants to be called back, and tell them so.
    Callback,
    /// Say goodbye and hang up.
    Goodbye,
}

impl DtmfAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transfer => "transfer",
            Self::Callback => "callback",
            Self::Goodbye => "goodbye",
        }
    }

    const ALL: [Self; 3] = [Self::Transfer, Self::Callback, Self::Goodbye];
}

impl fmt::Display for DtmfAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The keys of a phone keypad, in the order a map is written out.
const DTMF_KEYS: [char; 12] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'];

/// A business's keypad: which keys do something, and what. Written as text like
/// `0=transfer,9=goodbye,*=callback` (keys 0-9, `*`, `#`; each at most once); the empty text is
/// a map where no key does anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtmfMap {
    /// Indexed like [`DTMF_KEYS`].
    actions: [Option<DtmfAction>; 12],
}

/// Why a DTMF map's text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfMapError {
    #[error("empty entry in the key map; write entries like 0=transfer, separated by commas")]
    EmptyEntry,
    #[error("{0:?} is not key=action, e.g. 0=transfer")]
    MissingEquals(String),
    #[error("{0:?} is not a phone key; keys are 0-9, * and #")]
    UnknownKey(String),
    #[error(
        "{action:?} (for key {key}) is not an action; actions are transfer, callback and goodbye"
    )]
    UnknownAction { key: char, action: String },
    #[error("key {0} appears more than once")]
    Duplicate(char),
}

impl DtmfMap {
    /// A map where no key does anything.
    pub fn empty() -> Self {
        Self {
            actions: [None; 12],
        }
    }

    /// What `key` does, if anything. Anything but a single keypad key does nothing.
    pub fn action(&self, key: &str) -> Option<DtmfAction> {
        let mut chars = key.chars();
        let (Some(key), None) = (chars.next(), chars.next()) else {
            return None;
        };
        self.actions[key_index(key)?]
    }

    /// The keys that do something, in keypad order.
    pub fn entries(&self) -> impl Iterator<Item = (char, DtmfAction)> + '_ {
        DTMF_KEYS
            .iter()
            .zip(&self.actions)
            .filter_map(|(key, action)| action.map(|action| (*key, action)))
    }

    pub fn is_empty(&self) -> bool {
        self.entries().next().is_none()
    }
}

fn key_index(key: char) -> Option<usize> {
    DTMF_KEYS.iter().position(|k| *k == key)
}

impl Default for DtmfMap {
    /// 0 asks for a person; nothing else is mapped.
    fn default() -> Self {
        let mut map = Self::empty();
        map.actions[0] = Some(DtmfAction::Transfer);
        map
    }
}

impl FromStr for DtmfMap {
    type Err = DtmfMapError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut map = Self::empty();
        if text.trim().is_empty() {
            return Ok(map);
        }
        for entry in text.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(DtmfMapError::EmptyEntry);
            }
            let Some((key, action)) = entry.split_once('=') else {
                return Err(DtmfMapError::MissingEquals(entry.to_string()));
            };
            let key_text = key.trim();
            let mut chars = key_text.chars();
            let index = match (chars.next(), chars.next()) {
                (Some(key), None) => key_index(key).map(|index| (key, index)),
                _ => None,
            };
            let Some((key, index)) = index else {
                return Err(DtmfMapError::UnknownKey(key_text.to_string()));
            };
            let action = action.trim();
            let Some(action) = DtmfAction::ALL
                .into_iter()
                .find(|a| a.as_str().eq_ignore_ascii_case(action))
            else {
                return Err(DtmfMapError::UnknownAction {
                    key,
                    action: action.to_string(),
                });
            };
            if map.actions[index].replace(action).is_some() {
                return Err(DtmfMapError::Duplicate(key));
            }
        }
        Ok(map)
    }
}

impl fmt::Display for DtmfMap {
    /// The text form, keys in keypad order: parsing it gives the same map back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (key, action)) in self.entries().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{key}={action}")?;
        }
        Ok(())
    }
}

/// Why a phone number is not E.164.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E164Error {
    #[error("{0:?} must start with + and the country code, e.g. +972501234567")]
    MissingPlus(String),
    #[error("{0:?} may hold only digits after the +")]
    NotDigits(String),
    #[error("{0:?} cannot have 0 as the first digit of the country code")]
    LeadingZero(String),
    #[error("{number:?} has {digits} digits; E.164 numbers have 7 to 15")]
    Length { number: String, digits: usize },
}

/// Checks that `number` is E.164: `+`, then 7 to 15 digits, the first not 0.
pub fn validate_e164(number: &str) -> Result<(), E164Error> {
    let Some(digits) = number.strip_prefix('+') else {
        return Err(E164Error::MissingPlus(number.to_string()));
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(E164Error::NotDigits(number.to_string()));
    }
    if !(7..=15).contains(&digits.len()) {
        return Err(E164Error::Length {
            number: number.to_string(),
            digits: digits.len(),
        });
    }
    if digits.starts_with('0') {
        return Err(E164Error::LeadingZero(number.to_string()));
    }
    Ok(())
}

/// A SELECT of every business column followed by `$tail`, as one static string.
macro_rules! select_businesses {
    ($tail:literal) => {
        concat!(
            "SELECT id, number, name, greeting, system_prompt, voice, transfer_to, dtmf_map, ",
            "created_at_ms, updated_at_ms ",
            "FROM businesses ",
            $tail
        )
    };
}

fn business_from_row(row: &AnyRow) -> Result<Business, StoreError> {
    let dtmf_map: Option<String> = row.try_get("dtmf_map")?;
    let dtmf_map = match dtmf_map {
        None => DtmfMap::default(),
        Some(text) => text
            .parse()
            .map_err(|error: DtmfMapError| StoreError::Corrupt {
                what: "business key map",
                reason: error.to_string(),
            })?,
    };
    Ok(Business {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        name: row.try_get("name")?,
        greeting: row.try_get("greeting")?,
        system_prompt: row.try_get("system_prompt")?,
        voice: row.try_get("voice")?,
        transfer_to: row.try_get("transfer_to")?,
        dtmf_map,
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
    /// Adds a business. A number already taken is [`StoreError::Duplicate`].
    pub async fn create_business(&self, new: &NewBusiness) -> Result<Business, StoreError> {
        check_numbers(&new.number, new.transfer_to.as_deref())?;
        // The conflict is answered by the insert itself, so two racing adds cannot both succeed.
        let row = sqlx::query(
            "INSERT INTO businesses (id, number, name, greeting, system_prompt, voice, transfer_to, \
             dtmf_map, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             ON CONFLICT (number) DO NOTHING \
             RETURNING id, number, name, greeting, system_prompt, voice, transfer_to, dtmf_map, \
             created_at_ms, updated_at_ms",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&new.number)
        .bind(&new.name)
        .bind(&new.greeting)
        .bind(&new.system_prompt)
        .bind(new.voice.as_deref())
        .bind(new.transfer_to.as_deref())
        .bind(new.dtmf_map.as_ref().map(DtmfMap::to_string))
        .bind(new.now_ms)
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
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(business_from_row).transpose()
    }

    pub async fn business_by_id(&self, id: &str) -> Result<Option<Business>, StoreError> {
        let row = sqlx::query(select_businesses!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(business_from_row).transpose()
    }

    /// Every business, by number.
    pub async fn list_businesses(&self) -> Result<Vec<Business>, StoreError> {
        let rows = sqlx::query(select_businesses!("ORDER BY number"))
            .fetch_all(self.pool())
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
        // statement covers every combination of changes and clearing is possible.
        let row = sqlx::query(
            "UPDATE businesses SET \
             name = CASE WHEN $2 = 1 THEN $3 ELSE name END, \
             greeting = CASE WHEN $4 = 1 THEN $5 ELSE greeting END, \
             system_prompt = CASE WHEN $6 = 1 THEN $7 ELSE system_prompt END, \
             voice = CASE WHEN $8 = 1 THEN $9 ELSE voice END, \
             transfer_to = CASE WHEN $10 = 1 THEN $11 ELSE transfer_to END, \
             dtmf_map = CASE WHEN $12 = 1 THEN $13 ELSE dtmf_map END, \
             updated_at_ms = $14 \
             WHERE number = $1 \
             RETURNING id, number, name, greeting, system_prompt, voice, transfer_to, dtmf_map, \
             created_at_ms, updated_at_ms",
        )
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
        .bind(now_ms)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_accepts_real_numbers() {
        assert_eq!(validate_e164("+972501234567"), Ok(()));
        assert_eq!(validate_e164("+14155550123"), Ok(()));
    }

    #[test]
    fn e164_refuses_each_kind_of_mistake() {
        assert!(matches!(
            validate_e164("0501234567"),
            Err(E164Error::MissingPlus(_))
        ));
        assert!(matches!(
            validate_e164("+972-50-1234567"),
            Err(E164Error::NotDigits(_))
        ));
        assert!(matches!(
            validate_e164("+9725012345678901"),
            Err(E164Error::Length { digits: 16, .. })
        ));
        assert!(matches!(
            validate_e164("+12345"),
            Err(E164Error::Length { digits: 5, .. })
        ));
        assert!(matches!(
            validate_e164("+0501234567"),
            Err(E164Error::LeadingZero(_))
        ));
        assert!(matches!(
            validate_e164("+"),
            Err(E164Error::Length { digits: 0, .. })
        ));
    }

    #[test]
    fn dtmf_map_parses_its_text_and_display_gives_it_back() {
        let map: DtmfMap = "0=transfer,9=goodbye,*=callback".parse().unwrap();
        assert_eq!(map.action("0"), Some(DtmfAction::Transfer));
        assert_eq!(map.action("9"), Some(DtmfAction::Goodbye));
        assert_eq!(map.action("*"), Some(DtmfAction::Callback));
        assert_eq!(map.action("5"), None);
        assert_eq!(map.action("#"), None);
        assert_eq!(map.action("09"), None);
        assert_eq!(map.to_string(), "0=transfer,9=goodbye,*=callback");
        assert_eq!(map.to_string().parse::<DtmfMap>(), Ok(map));

        // Spaces, any case and any order are accepted; the text comes back in keypad order.
        let loose: DtmfMap = " # = Goodbye , 1=CALLBACK ,5=transfer ".parse().unwrap();
        assert_eq!(loose.to_string(), "1=callback,5=transfer,#=goodbye");
        assert_eq!(loose.to_string().parse::<DtmfMap>(), Ok(loose.clone()));
        assert_eq!(
            loose.entries().collect::<Vec<_>>(),
            [
                ('1', DtmfAction::Callback),
                ('5', DtmfAction::Transfer),
                ('#', DtmfAction::Goodbye)
            ]
        );

        let empty: DtmfMap = "  ".parse().unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty, DtmfMap::empty());
        assert_eq!(empty.to_string(), "");
        assert_eq!("".parse::<DtmfMap>(), Ok(empty));
    }

    #[test]
    fn dtmf_map_default_transfers_on_zero_only() {
        let map = DtmfMap::default();
        assert_eq!(map.to_string(), "0=transfer");
        assert_eq!("0=transfer".parse::<DtmfMap>(), Ok(map.clone()));
        for key in DTMF_KEYS.iter().skip(1) {
            assert_eq!(map.action(&key.to_string()), None);
        }
    }

    #[test]
    fn dtmf_map_refuses_each_kind_of_mistake_with_a_clear_reason() {
        let parse = |text: &str| text.parse::<DtmfMap>().unwrap_err();
        assert_eq!(parse("A=transfer"), DtmfMapError::UnknownKey("A".into()));
        assert_eq!(parse("10=transfer"), DtmfMapError::UnknownKey("10".into()));
        assert_eq!(parse("=transfer"), DtmfMapError::UnknownKey("".into()));
        assert_eq!(
            parse("0=operator"),
            DtmfMapError::UnknownAction {
                key: '0',
                action: "operator".into()
            }
        );
        assert_eq!(
            parse("0="),
            DtmfMapError::UnknownAction {
                key: '0',
                action: "".into()
            }
        );
        assert_eq!(
            parse("0=transfer,9=goodbye,0=callback"),
            DtmfMapError::Duplicate('0')
        );
        assert_eq!(
            parse("0transfer"),
            DtmfMapError::MissingEquals("0transfer".into())
        );
        assert_eq!(parse("0=transfer,,9=goodbye"), DtmfMapError::EmptyEntry);
        assert_eq!(parse("0=transfer,"), DtmfMapError::EmptyEntry);

        let message = parse("7=dance").to_string();
        assert!(
            message.contains("\"dance\"") && message.contains("transfer, callback and goodbye"),
            "{message}"
        );
        let message = parse("x=goodbye").to_string();
        assert!(message.contains("0-9, * and #"), "{message}");
        assert!(parse("5=goodbye,5=goodbye").to_string().contains("key 5"));
    }
}
