//! Web sign-in sessions and failed sign-ins, kept in the database so that every instance sharing
//! it sees the same sessions and counts the same failures. Sessions are stored by the hash of
//! their token only; the token itself never reaches the database.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// A signed-in session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub user: String,
    pub created_at_ms: i64,
    /// Moved forward as the session is used (coarsely: see [`Store::touch_web_session`]).
    pub last_seen_ms: i64,
    /// The absolute end, however busy the session is.
    pub expires_at_ms: i64,
}

fn session_from_row(row: &AnyRow) -> Result<WebSession, sqlx::Error> {
    Ok(WebSession {
        user: row.try_get("user_name")?,
        created_at_ms: row.try_get("created_at_ms")?,
        last_seen_ms: row.try_get("last_seen_ms")?,
        expires_at_ms: row.try_get("expires_at_ms")?,
    })
}

impl Store {
    /// Stores a new session for `user` under `token_hash`, ending at `expires_at_ms` at the latest.
    pub async fn insert_web_session(
        &self,
        token_hash: &str,
        user: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(concat!(
            "INSERT INTO web_sessions (token_hash, user_name, created_at_ms, last_seen_ms, expires_at_ms) ",
            "VALUES ($1, $2, $3, $3, $4) ON CONFLICT (token_hash) DO NOTHING"
        ))
        .bind(token_hash)
        .bind(user)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            // 256 random bits never collide; a clash means the caller reused a token.
            return Err(StoreError::Duplicate {
                what: "web session",
                key: "(token hash withheld)".to_string(),
            });
        }
        Ok(())
    }

    /// The session stored under `token_hash` if it is still live at `now_ms`: before its absolute
    /// end and seen within the last `idle_ms`.
    pub async fn live_web_session(
        &self,
        token_hash: &str,
        now_ms: i64,
        idle_ms: i64,
    ) -> Result<Option<WebSession>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT user_name, created_at_ms, last_seen_ms, expires_at_ms FROM web_sessions ",
            "WHERE token_hash = $1 AND expires_at_ms > $2 AND last_seen_ms > $3"
        ))
        .bind(token_hash)
        .bind(now_ms)
        .bind(now_ms.saturating_sub(idle_ms))
        .fetch_optional(self.reader())
        .await?;
        Ok(row.as_ref().map(session_from_row).transpose()?)
    }

    /// Records that the session was used at `now_ms` (never moving it back).
    pub async fn touch_web_session(&self, token_hash: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE web_sessions SET last_seen_ms = $2 WHERE token_hash = $1 AND last_seen_ms < $2",
        )
        .bind(token_hash)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Ends the session stored under `token_hash`; `false` when there was none.
    pub async fn delete_web_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets sessions past their end or idle for `idle_ms` at `now_ms`. Returns how many.
    pub async fn prune_web_sessions(&self, now_ms: i64, idle_ms: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM web_sessions WHERE expires_at_ms <= $1 OR last_seen_ms <= $2")
                .bind(now_ms)
                .bind(now_ms.saturating_sub(idle_ms))
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected())
    }

    /// Counts one sign-in attempt against each of `keys`, as a failure until it is withdrawn or
    /// forgiven. `attempt_id` names the attempt's rows.
    pub async fn insert_sign_in_attempt(
        &self,
        attempt_id: &str,
        keys: &[&str],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        for key in keys {
            sqlx::query(concat!(
                "INSERT INTO sign_in_failures (attempt_id, limit_key, at_ms) VALUES ($1, $2, $3) ",
                "ON CONFLICT (attempt_id, limit_key) DO NOTHING"
            ))
            .bind(attempt_id)
            .bind(*key)
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        }
        Ok(())
    }

    /// How many failures `key` has had since `since_ms`, and when the last one was.
    pub async fn sign_in_failures(
        &self,
        key: &str,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS failures, MAX(at_ms) AS last_at_ms FROM sign_in_failures \
             WHERE limit_key = $1 AND at_ms > $2",
        )
        .bind(key)
        .bind(since_ms)
        .fetch_one(self.reader())
        .await?;
        Ok((row.try_get("failures")?, row.try_get("last_at_ms")?))
    }

    /// Takes back an attempt that was refused before its password was checked.
    pub async fn withdraw_sign_in_attempt(&self, attempt_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sign_in_failures WHERE attempt_id = $1")
            .bind(attempt_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Forgets every failure counted against `keys` (after a successful sign-in).
    pub async fn forgive_sign_in_failures(&self, keys: &[&str]) -> Result<(), StoreError> {
        for key in keys {
            sqlx::query("DELETE FROM sign_in_failures WHERE limit_key = $1")
                .bind(*key)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Forgets failures from before `older_than_ms`. Returns how many.
    pub async fn prune_sign_in_failures(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sign_in_failures WHERE at_ms < $1")
            .bind(older_than_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
