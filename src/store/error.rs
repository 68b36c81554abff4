//! The one error type of the store boundary.

/// Why a store operation failed. Routine outcomes (a lookup that finds nothing, a webhook retried,
/// a nonce already used) are values in the `Ok` side, not errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0}: expected sqlite:FILE, sqlite::memory: or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{what} {key} already exists")]
    Duplicate { what: &'static str, key: String },
    #[error("no {what} {key}")]
    NotFound { what: &'static str, key: String },
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("the database holds an unreadable {what}: {reason}")]
    Corrupt { what: &'static str, reason: String },
    #[error("gave up on {0} after repeated conflicting concurrent writes")]
    Contended(String),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}
