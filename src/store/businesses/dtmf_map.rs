//! A business's keypad map: which keys do something during an AI call, and its text form.

use std::fmt;
use std::str::FromStr;

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

#[cfg(test)]
mod tests {
    use super::*;

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
