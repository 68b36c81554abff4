//! Connecting: URLs, engines, file creation, WAL, foreign keys, migrations.

use super::*;

#[tokio::test]
async fn connect_reports_engine_and_hides_password_and_pings() {
    for_each_engine(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        store.ping().await.unwrap();
        let expected = if url.starts_with("sqlite") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        };
        assert_eq!(store.engine(), expected);
        assert!(
            store.display_url().starts_with(expected.as_str()),
            "{}",
            store.display_url()
        );
        // Connecting again finds the migrations applied and applies nothing twice.
        let again = Store::connect(&url).await.unwrap();
        again.migrate().await.unwrap();
        store.close().await;
        again.close().await;
    })
    .await;
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_with_foreign_keys() {
    let database = TestDatabase::sqlite().unwrap();
    let path = database.url().trim_start_matches("sqlite://").to_string();
    assert!(!std::path::Path::new(&path).exists());
    let store = Store::connect(database.url()).await.unwrap();
    assert!(
        std::path::Path::new(&path).exists(),
        "the file was not created"
    );
    assert!(
        std::path::Path::new(&format!("{path}-wal")).exists(),
        "the journal is not WAL"
    );
    // An event for a call that does not exist breaks a foreign key.
    let orphan = store.insert_event("CA-none", "dtmf", None, T0).await;
    assert!(matches!(orphan, Err(StoreError::Query(_))), "{orphan:?}");
    store.close().await;
}

#[tokio::test]
async fn postgres_database_is_created_when_missing() {
    let Ok(server) = std::env::var(crate::common::databases::POSTGRES_URL_VARIABLE) else {
        println!("postgres skipped: no server configured");
        return;
    };
    sqlx::any::install_default_drivers();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&format!("/sicha_test_{}", uuid::Uuid::new_v4().simple()));
    let url = url.to_string();
    let store = Store::connect(&url).await.unwrap();
    assert!(
        store.list_businesses().await.unwrap().is_empty(),
        "created and migrated"
    );
    store.close().await;
    <sqlx::Any as sqlx::migrate::MigrateDatabase>::force_drop_database(&url)
        .await
        .unwrap();
}

#[tokio::test]
async fn sqlite_in_memory_keeps_one_database_across_concurrent_queries() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let added = store
        .create_business(&new_business("+97231234567"), T0)
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        store.business_by_number(&added.number),
        store.list_businesses()
    );
    assert_eq!(a.unwrap().as_ref(), Some(&added));
    assert_eq!(b.unwrap(), vec![added]);
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let error = Store::connect("mysql://root:pw@localhost/sicha")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnsupportedUrl(_)), "{error}");
}
