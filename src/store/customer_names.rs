//! Naming customers by hand (the `sicha customer` commands): finding them by phone number and
//! setting or clearing the name the pages show.

use super::{Customer, Store, StoreError};

/// Longest name kept, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A name as it will be stored: trimmed, not empty, not too long, without control characters
/// (a stray newline or escape sequence would garble the pages and the terminal).
pub fn clean_name(name: &str) -> Result<String, StoreError> {
    let invalid = |reason: &str| StoreError::Invalid {
        what: "customer name",
        reason: reason.to_string(),
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(&format!(
            "it is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("it holds control characters"));
    }
    Ok(name.to_string())
}

impl Store {
    /// Every customer with this phone number, one per business it called, oldest first.
    pub async fn customers_by_phone(&self, phone: &str) -> Result<Vec<Customer>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM customers WHERE phone = $1 ORDER BY created_at_ms, id",
        )
        .bind(phone)
        .fetch_all(self.reader())
        .await?;
        let mut customers = Vec::with_capacity(ids.len());
        for id in ids {
            // A row deleted in between is simply not listed.
            customers.extend(self.customer_by_id(&id).await?);
        }
        Ok(customers)
    }

    /// Sets the customer's name (checked with [`clean_name`]), or clears it with `None`.
    pub async fn set_customer_name(
        &self,
        id: &str,
        name: Option<&str>,
    ) -> Result<Customer, StoreError> {
        let name = name.map(clean_name).transpose()?;
        let done = sqlx::query("UPDATE customers SET name = $1 WHERE id = $2")
            .bind(name.as_deref())
            .bind(id)
            .execute(self.pool())
            .await?;
        let not_found = || StoreError::NotFound {
            what: "customer",
            key: id.to_string(),
        };
        if done.rows_affected() == 0 {
            return Err(not_found());
        }
        self.customer_by_id(id).await?.ok_or_else(not_found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(clean_name("  דנה כהן ").unwrap(), "דנה כהן");
        for bad in ["", "   ", "דנה\nכהן", "\u{1b}[31mx"] {
            assert!(clean_name(bad).is_err(), "{bad:?}");
        }
        assert!(clean_name(&"א".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(clean_name(&"א".repeat(MAX_NAME_CHARS + 1)).is_err());
    }
}
