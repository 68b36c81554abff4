//! Customers: callers known by phone number within one business.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: String,
    pub business_id: String,
    pub phone: String,
    pub name: Option<String>,
    pub created_at_ms: i64,
    pub last_contact_ms: i64,
}

macro_rules! customer_columns {
    () => {
        "id, business_id, phone, name, created_at_ms, last_contact_ms"
    };
}

fn customer_from_row(row: &AnyRow) -> Result<Customer, sqlx::Error> {
    Ok(Customer {
        id: row.try_get("id")?,
        business_id: row.try_get("business_id")?,
        phone: row.try_get("phone")?,
        name: row.try_get("name")?,
        created_at_ms: row.try_get("created_at_ms")?,
        last_contact_ms: row.try_get("last_contact_ms")?,
    })
}

/// A LIKE pattern matching `text` anywhere, with LIKE's own wildcards taken literally.
pub(super) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// The customer calling `business_id` from `phone`, created on first contact; records the
    /// contact time. One upsert statement, so two calls racing from the same phone get one row.
    pub async fn find_or_create_customer(
        &self,
        business_id: &str,
        phone: &str,
        now_ms: i64,
    ) -> Result<Customer, StoreError> {
        let row = sqlx::query(concat!(
            "INSERT INTO customers (id, business_id, phone, name, created_at_ms, last_contact_ms) ",
            "VALUES ($1, $2, $3, NULL, $4, $4) ",
            "ON CONFLICT (business_id, phone) DO UPDATE SET last_contact_ms = ",
            "CASE WHEN excluded.last_contact_ms > customers.last_contact_ms ",
            "THEN excluded.last_contact_ms ELSE customers.last_contact_ms END ",
            "RETURNING ",
            customer_columns!()
        ))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(business_id)
        .bind(phone)
        .bind(now_ms)
        .fetch_one(self.pool())
        .await?;
        Ok(customer_from_row(&row)?)
    }

    pub async fn customer_by_id(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.as_ref().map(customer_from_row).transpose()?)
    }

    /// Customers, most recently in contact first, optionally of one business and optionally
    /// whose phone or name contains `search` (case-insensitive).
    pub async fn list_customers(
        &self,
        business_id: Option<&str>,
        search: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Customer>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers WHERE ($1 IS NULL OR business_id = $1) ",
            "AND ($2 IS NULL OR LOWER(phone) LIKE $2 ESCAPE '\\' OR LOWER(name) LIKE $2 ESCAPE '\\') ",
            "ORDER BY last_contact_ms DESC, id LIMIT $3"
        ))
        .bind(business_id)
        .bind(search.map(contains_pattern))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .iter()
            .map(customer_from_row)
            .collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_pattern_takes_wildcards_literally() {
        assert_eq!(contains_pattern("Dana"), "%dana%");
        assert_eq!(contains_pattern("50%_x\\"), "%50\\%\\_x\\\\%");
    }
}
