//! Single use of media stream tokens: a ledger of nonces already spent.

use super::{Store, StoreError};

impl Store {
    /// Spends `nonce`: `true` the first time, `false` on any later use. The nonce is the primary
    /// key and the insert ignores a conflict, so exactly one of several racing uses (even on
    /// different instances sharing the database) sees its row inserted.
    pub async fn consume_stream_token(
        &self,
        nonce: &str,
        call_sid: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO stream_tokens (nonce, call_sid, used_at_ms) VALUES ($1, $2, $3) ON CONFLICT (nonce) DO NOTHING",
        )
        .bind(nonce)
        .bind(call_sid)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets nonces used before `older_than_ms`. Only safe once those tokens have expired,
    /// since a forgotten nonce could be spent again. Returns how many were removed.
    pub async fn prune_stream_tokens(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM stream_tokens WHERE used_at_ms < $1")
            .bind(older_than_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
