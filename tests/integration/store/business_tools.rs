//! Businesses' tools and tools secrets: kept as given, the secret made once and kept until rotated.

use sicha::business_tools::{BusinessTools, ToolsFileFormat, ToolsSecret};

use super::*;

fn tools(timeout_ms: u32) -> BusinessTools {
    let text = format!(
        "max_calls_per_call = 4\n\n[[tools]]\nname = \"book\"\ndescription = \"Book a table.\"\n\
         url = \"https://bistro.example/book\"\ntimeout_ms = {timeout_ms}\nconfirm = true\n\
         waiting_phrase = \"רגע, אני בודקת\"\n\
         parameters = {{ type = \"object\", properties = {{ guests = {{ type = \"integer\" }} }} }}\n"
    );
    BusinessTools::parse(&text, ToolsFileFormat::Toml).unwrap()
}

async fn change(store: &Store, number: &str, changes: BusinessChanges) -> Business {
    store
        .update_business(number, &changes, T0 + 1)
        .await
        .unwrap()
}

#[tokio::test]
async fn businesses_keep_their_tools_and_one_secret_until_it_is_rotated() {
    for_each_store(|store| async move {
        let plain = store
            .create_business(&new_business("+97231234567"), T0)
            .await
            .unwrap();
        assert_eq!(
            (plain.tools.as_ref(), plain.tools_secret.as_ref()),
            (None, None)
        );

        let added = store
            .create_business(
                &NewBusiness {
                    tools: Some(tools(3000)),
                    ..new_business("+97239876543")
                },
                T0,
            )
            .await
            .unwrap();
        assert_eq!(added.tools, Some(tools(3000)));
        let secret = added
            .tools_secret
            .clone()
            .expect("tools come with a secret");
        assert_eq!(ToolsSecret::parse(secret.expose()), Ok(secret.clone()));
        let found = store
            .business_by_number(&added.number)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, added);
        assert_eq!(
            found.tools.unwrap().get("book").unwrap().waiting_phrase(),
            Some("רגע, אני בודקת")
        );

        // Other changes, and new tools, keep the secret.
        let renamed = change(
            &store,
            &added.number,
            BusinessChanges {
                name: Some("ביסטרו".into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            (renamed.tools.as_ref(), renamed.tools_secret.as_ref()),
            (Some(&tools(3000)), Some(&secret))
        );
        let retimed = change(
            &store,
            &added.number,
            BusinessChanges {
                tools: Some(Some(tools(9000))),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(retimed.tools, Some(tools(9000)));
        assert_eq!(retimed.tools_secret.as_ref(), Some(&secret));

        let rotated = change(
            &store,
            &added.number,
            BusinessChanges {
                rotate_tools_secret: true,
                ..Default::default()
            },
        )
        .await;
        let new_secret = rotated.tools_secret.clone().unwrap();
        assert_ne!(new_secret, secret);
        assert_eq!(rotated.tools, Some(tools(9000)));

        // Clearing the tools keeps the secret, so tools added back verify as before.
        let cleared = change(
            &store,
            &added.number,
            BusinessChanges {
                tools: Some(None),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            (cleared.tools.as_ref(), cleared.tools_secret.as_ref()),
            (None, Some(&new_secret))
        );
        let back = change(
            &store,
            &added.number,
            BusinessChanges {
                tools: Some(Some(tools(3000))),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(back.tools_secret.as_ref(), Some(&new_secret));

        // A business getting its first tools by an update gets its secret then.
        let equipped = change(
            &store,
            &plain.number,
            BusinessChanges {
                tools: Some(Some(tools(3000))),
                ..Default::default()
            },
        )
        .await;
        let first_secret = equipped
            .tools_secret
            .clone()
            .expect("a secret with the first tools");
        assert_ne!(first_secret, new_secret, "each business has its own secret");
        assert_eq!(
            store
                .business_by_id(&plain.id)
                .await
                .unwrap()
                .unwrap()
                .tools_secret,
            Some(first_secret)
        );
        let listed: Vec<Option<BusinessTools>> = store
            .list_businesses()
            .await
            .unwrap()
            .into_iter()
            .map(|business| business.tools)
            .collect();
        assert_eq!(listed, vec![Some(tools(3000)), Some(tools(3000))]);
    })
    .await;
}

#[tokio::test]
async fn unreadable_stored_tools_are_reported_as_corrupt() {
    for_each_store(|store| async move {
        let business = store
            .create_business(
                &NewBusiness {
                    tools: Some(tools(3000)),
                    ..new_business("+97231234567")
                },
                T0,
            )
            .await
            .unwrap();
        let secret = business.tools_secret.unwrap();
        for (tools, tools_secret, what) in [
            (
                Some("{\"tools\": 3}"),
                Some(secret.expose()),
                "business tools",
            ),
            (
                Some("{\"tools\": [{\"name\": \"end_call\"}]}"),
                Some(secret.expose()),
                "business tools",
            ),
            (
                Some(&*tools(3000).to_canonical_json()),
                Some("not-hex"),
                "business tools secret",
            ),
            (
                Some(&*tools(3000).to_canonical_json()),
                None,
                "business tools secret",
            ),
        ] {
            sqlx::query("UPDATE businesses SET tools = $1, tools_secret = $2")
                .bind(tools)
                .bind(tools_secret)
                .execute(store.pool())
                .await
                .unwrap();
            let error = store
                .business_by_number(&business.number)
                .await
                .unwrap_err();
            assert!(
                matches!(&error, StoreError::Corrupt { what: found, .. } if *found == what),
                "{tools:?} {tools_secret:?}: {error}"
            );
        }
    })
    .await;
}
