//! E.164 phone numbers: the only form a business's numbers are stored in.

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
}
