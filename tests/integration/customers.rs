//! `sicha customer …` through the real binary, on every engine: naming a caller by phone number
//! (and the pages showing it), telling apart a phone that called two businesses, listing.

use crate::common::databases::for_each_engine;
use sicha::store::{NewBusiness, Store};

use crate::common::{sicha_err as refused, sicha_ok as ok};
use crate::web_support::{get_signed_in, sign_in, web_app};

const SHOP: &str = "+97231234567";
const CLINIC: &str = "+97239876543";
const DANA: &str = "+972541112222";
const BOTH: &str = "+972501234567";
const T0: i64 = 1_750_000_000_000;

/// Two businesses; Dana called the shop, another caller called both.
async fn seed(store: &Store) {
    for (number, name) in [(SHOP, "מספרת דני"), (CLINIC, "מרפאת שיניים")] {
        let business = store
            .create_business(
                &NewBusiness {
                    number: number.into(),
                    name: name.into(),
                    greeting: "שלום".into(),
                    system_prompt: "את עוזרת טלפונית.".into(),
                    voice: None,
                    transfer_to: None,
                    dtmf_map: None,
                    sms_policy: None,
                    preemptive_replies: None,
                    tools: None,
                    opening_hours: None,
                },
                T0,
            )
            .await
            .unwrap();
        store
            .find_or_create_customer(&business.id, BOTH, T0 + 1000)
            .await
            .unwrap();
        if number == SHOP {
            store
                .find_or_create_customer(&business.id, DANA, T0 + 2000)
                .await
                .unwrap();
        }
    }
}

/// The names of the customers with `phone`, unnamed first.
async fn names(store: &Store, phone: &str) -> Vec<Option<String>> {
    let mut names: Vec<_> = store
        .customers_by_phone(phone)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_customer_is_named_by_phone_and_the_pages_show_it() {
    for_each_engine(|db| async move {
        let store = Store::connect(&db).await.unwrap();
        seed(&store).await;

        let printed = ok(
            &db,
            &[
                "customer",
                "set-name",
                "--phone",
                DANA,
                "--name",
                " דנה כהן ",
            ],
        );
        assert!(
            printed.contains(DANA) && printed.contains("\nדנה כהן\n"),
            "{printed}"
        );
        assert_eq!(names(&store, DANA).await, [Some("דנה כהן".to_string())]);

        let app = web_app(&db, &[]).await;
        let cookie = sign_in(&app).await;
        let (status, _, page) = get_signed_in(&app, &cookie, "/customers").await;
        assert_eq!(status, 200);
        assert!(page.contains("דנה כהן"), "{page}");

        // A phone that called both businesses needs the business named.
        let ambiguous = refused(
            &db,
            &["customer", "set-name", "--phone", BOTH, "--name", "רון"],
        );
        assert!(
            ambiguous.contains("--business")
                && ambiguous.contains(SHOP)
                && ambiguous.contains(CLINIC),
            "{ambiguous}"
        );
        ok(
            &db,
            &[
                "customer",
                "set-name",
                "--phone",
                BOTH,
                "--business",
                CLINIC,
                "--name",
                "רון",
            ],
        );
        assert_eq!(names(&store, BOTH).await, [None, Some("רון".to_string())]);

        let cleared = ok(&db, &["customer", "set-name", "--phone", DANA, "--clear"]);
        assert!(cleared.contains("cleared"), "{cleared}");
        assert_eq!(names(&store, DANA).await, [None]);
        app.shutdown().await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_refused_with_a_reason_and_changes_nothing() {
    for_each_engine(|db| async move {
        let store = Store::connect(&db).await.unwrap();
        seed(&store).await;
        let set = |phone: &str, name: &str| {
            refused(
                &db,
                &["customer", "set-name", "--phone", phone, "--name", name],
            )
        };
        assert!(set("+972599999999", "אף אחד").contains("no customer"));
        assert!(
            set("0541112222", "דנה").contains("must start with +"),
            "a local number"
        );
        assert!(set(DANA, "דנה\u{7}").contains("control characters"));
        assert!(set(DANA, &"א".repeat(101)).contains("longer than"));
        assert!(set(DANA, "   ").contains("empty"));
        let both = refused(
            &db,
            &[
                "customer", "set-name", "--phone", DANA, "--name", "דנה", "--clear",
            ],
        );
        assert!(both.contains("cannot be used with"), "{both}");
        let neither = refused(&db, &["customer", "set-name", "--phone", DANA]);
        assert!(neither.contains("--name"), "{neither}");
        let no_shop = refused(
            &db,
            &[
                "customer",
                "set-name",
                "--phone",
                DANA,
                "--business",
                "+97230000000",
                "--name",
                "דנה",
            ],
        );
        assert!(no_shop.contains("no business"), "{no_shop}");
        assert_eq!(names(&store, DANA).await, [None]);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn customers_are_listed_with_their_business_and_filtered() {
    for_each_engine(|db| async move {
        let store = Store::connect(&db).await.unwrap();
        seed(&store).await;
        ok(
            &db,
            &["customer", "set-name", "--phone", DANA, "--name", "דנה כהן"],
        );
        let all = ok(&db, &["customer", "list"]);
        assert_eq!(all.matches(BOTH).count(), 2, "{all}");
        assert!(
            all.find(DANA).unwrap() < all.find(BOTH).unwrap(),
            "latest contact first: {all}"
        );
        assert!(
            all.contains("\nדנה כהן\n") && all.contains("(no name)"),
            "{all}"
        );
        let clinic = ok(&db, &["customer", "list", "--business", CLINIC]);
        assert!(clinic.contains(BOTH) && !clinic.contains(DANA), "{clinic}");
        let by_name = ok(&db, &["customer", "list", "--search", "דנה"]);
        assert!(
            by_name.contains(DANA) && !by_name.contains(BOTH),
            "{by_name}"
        );
        assert!(ok(&db, &["customer", "list", "--search", "zzz"]).contains("no customers"));
        store.close().await;
    })
    .await;
}
