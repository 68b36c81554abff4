//! Reading a database URL: which engine, what to connect to, and what is safe to print.

use std::fmt;

use url::Url;

use super::StoreError;

/// The database engine behind a [`super::Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A database URL made ready for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectTarget {
    pub engine: Engine,
    /// What the driver connects to (a SQLite file gets `mode=rwc` so it is created when missing).
    pub url: String,
    /// The URL as given, without any password.
    pub display: String,
    pub in_memory: bool,
}

impl ConnectTarget {
    pub fn parse(url: &str) -> Result<ConnectTarget, StoreError> {
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => Ok(sqlite_target(url)),
            Some("postgres" | "postgresql") => postgres_target(url),
            _ => Err(StoreError::UnsupportedUrl(redact(url))),
        }
    }
}

fn sqlite_target(url: &str) -> ConnectTarget {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (database, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = database == ":memory:" || query.split('&').any(|pair| pair == "mode=memory");
    let names_mode = query.split('&').any(|pair| pair.starts_with("mode="));
    let url = if in_memory || names_mode {
        url.to_string()
    } else if query.is_empty() {
        format!("{url}?mode=rwc")
    } else {
        format!("{url}&mode=rwc")
    };
    ConnectTarget {
        engine: Engine::Sqlite,
        url,
        display: format!("sqlite:{database}"),
        in_memory,
    }
}

fn postgres_target(url: &str) -> Result<ConnectTarget, StoreError> {
    let parsed = Url::parse(url).map_err(|_| StoreError::UnsupportedUrl(redact(url)))?;
    Ok(ConnectTarget {
        engine: Engine::Postgres,
        url: url.to_string(),
        display: without_password(parsed),
        in_memory: false,
    })
}

/// Removes the password from the userinfo and from a `password=` query parameter.
fn without_password(mut url: Url) -> String {
    if url.password().is_some() {
        let _ = url.set_password(None);
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "password")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if url.query().is_some() {
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    url.to_string()
}

/// Best effort for URLs that do not even parse: keep the scheme only.
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) => without_password(parsed),
        Err(_) => match url.split_once(':') {
            Some((scheme, _)) => format!("{scheme}:…"),
            None => "…".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_of_every_accepted_form() {
        let slashes = ConnectTarget::parse("sqlite://sicha.db").unwrap();
        assert_eq!(slashes.url, "sqlite://sicha.db?mode=rwc");
        assert_eq!(slashes.display, "sqlite:sicha.db");
        assert!(!slashes.in_memory);

        let bare = ConnectTarget::parse("sqlite:sicha.db").unwrap();
        assert_eq!(bare.url, "sqlite:sicha.db?mode=rwc");

        let memory = ConnectTarget::parse("sqlite::memory:").unwrap();
        assert!(memory.in_memory);
        assert_eq!(memory.url, "sqlite::memory:");

        let read_only = ConnectTarget::parse("sqlite://a.db?mode=ro").unwrap();
        assert_eq!(read_only.url, "sqlite://a.db?mode=ro");

        let with_query = ConnectTarget::parse("sqlite://a.db?cache=shared").unwrap();
        assert_eq!(with_query.url, "sqlite://a.db?cache=shared&mode=rwc");
    }

    #[test]
    fn postgres_password_never_displayed() {
        let target =
            ConnectTarget::parse("postgres://app:s3cret@db.example:5432/sicha?sslmode=require")
                .unwrap();
        assert_eq!(target.engine, Engine::Postgres);
        assert_eq!(
            target.url,
            "postgres://app:s3cret@db.example:5432/sicha?sslmode=require"
        );
        assert!(!target.display.contains("s3cret"), "{}", target.display);
        assert!(
            target.display.contains("app@db.example:5432/sicha"),
            "{}",
            target.display
        );

        let in_query =
            ConnectTarget::parse("postgresql://db/sicha?password=s3cret&user=app").unwrap();
        assert!(!in_query.display.contains("s3cret"), "{}", in_query.display);
        assert!(
            in_query.display.contains("user=app"),
            "{}",
            in_query.display
        );
    }

    #[test]
    fn other_schemes_are_refused_without_echoing_secrets() {
        let error = ConnectTarget::parse("mysql://root:s3cret@db/sicha").unwrap_err();
        assert!(matches!(error, StoreError::UnsupportedUrl(_)));
        assert!(!error.to_string().contains("s3cret"), "{error}");
        assert!(ConnectTarget::parse("sicha.db").is_err());
    }
}
