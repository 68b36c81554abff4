//! Businesses and customers.

use sicha::store::businesses::{DtmfAction, DtmfMap};

use super::*;

#[tokio::test]
async fn businesses_create_find_list_and_refuse_duplicates() {
    for_each_store(|store| async move {
        let added = store
            .create_business(&new_business("+97231234567"), T0)
            .await
            .unwrap();
        assert_eq!(added.number, "+97231234567");
        assert_eq!(added.voice.as_deref(), Some("he-IL-Wavenet-A"));
        assert_eq!((added.created_at_ms, added.updated_at_ms), (T0, T0));

        assert_eq!(
            store
                .business_by_number("+97231234567")
                .await
                .unwrap()
                .as_ref(),
            Some(&added)
        );
        assert_eq!(
            store.business_by_id(&added.id).await.unwrap().as_ref(),
            Some(&added)
        );
        assert_eq!(
            store.business_by_number("+97230000000").await.unwrap(),
            None
        );
        assert_eq!(store.business_by_id("nope").await.unwrap(), None);

        let duplicate = store
            .create_business(&new_business("+97231234567"), T0)
            .await
            .unwrap_err();
        assert!(
            matches!(duplicate, StoreError::Duplicate { .. }),
            "{duplicate}"
        );

        let first = store
            .create_business(&new_business("+14155550100"), T0)
            .await
            .unwrap();
        let numbers: Vec<String> = store
            .list_businesses()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.number)
            .collect();
        assert_eq!(numbers, vec![first.number, added.number]);

        let invalid = store
            .create_business(&new_business("031234567"), T0)
            .await
            .unwrap_err();
        assert!(matches!(invalid, StoreError::Invalid { .. }), "{invalid}");
        let bad_transfer = NewBusiness {
            transfer_to: Some("050-111".into()),
            ..new_business("+97239999999")
        };
        assert!(matches!(
            store.create_business(&bad_transfer, T0).await,
            Err(StoreError::Invalid { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn businesses_update_changes_only_what_is_given_and_can_clear() {
    for_each_store(|store| async move {
        let added = store
            .create_business(&new_business("+97231234567"), T0)
            .await
            .unwrap();
        let renamed = store
            .update_business(
                &added.number,
                &BusinessChanges {
                    name: Some("מספרת רות".into()),
                    ..Default::default()
                },
                T0 + 5,
            )
            .await
            .unwrap();
        assert_eq!(renamed.name, "מספרת רות");
        assert_eq!(
            (renamed.greeting.as_str(), renamed.voice.as_deref()),
            (added.greeting.as_str(), added.voice.as_deref())
        );
        assert_eq!((renamed.created_at_ms, renamed.updated_at_ms), (T0, T0 + 5));

        let changes = BusinessChanges {
            greeting: Some("היי".into()),
            system_prompt: Some("קצר".into()),
            voice: Some(None),
            transfer_to: Some(Some("+972509998888".into())),
            ..Default::default()
        };
        let changed = store
            .update_business(&added.number, &changes, T0 + 6)
            .await
            .unwrap();
        assert_eq!(changed.name, "מספרת רות");
        assert_eq!(
            (changed.greeting.as_str(), changed.system_prompt.as_str()),
            ("היי", "קצר")
        );
        assert_eq!(changed.voice, None);
        assert_eq!(changed.transfer_to.as_deref(), Some("+972509998888"));

        let cleared = BusinessChanges {
            transfer_to: Some(None),
            voice: Some(Some("x".into())),
            ..Default::default()
        };
        let cleared = store
            .update_business(&added.number, &cleared, T0 + 7)
            .await
            .unwrap();
        assert_eq!(
            (cleared.transfer_to, cleared.voice.as_deref()),
            (None, Some("x"))
        );
        assert_eq!(
            store
                .business_by_id(&added.id)
                .await
                .unwrap()
                .unwrap()
                .updated_at_ms,
            T0 + 7
        );

        let missing = store
            .update_business("+97230000000", &BusinessChanges::default(), T0)
            .await
            .unwrap_err();
        assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
        let bad = BusinessChanges {
            transfer_to: Some(Some("12".into())),
            ..Default::default()
        };
        assert!(matches!(
            store.update_business(&added.number, &bad, T0).await,
            Err(StoreError::Invalid { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn businesses_keep_a_key_map_that_can_be_set_changed_and_cleared() {
    for_each_store(|store| async move {
        // No map given: the default, 0 transfers.
        let plain = store
            .create_business(&new_business("+97231234567"), T0)
            .await
            .unwrap();
        assert_eq!(plain.dtmf_map, DtmfMap::default());
        assert_eq!(plain.dtmf_map.action("0"), Some(DtmfAction::Transfer));

        let map: DtmfMap = "0=transfer,9=goodbye,*=callback".parse().unwrap();
        let mapped = store
            .create_business(
                &NewBusiness {
                    dtmf_map: Some(map.clone()),
                    ..new_business("+97239876543")
                },
                T0,
            )
            .await
            .unwrap();
        assert_eq!(mapped.dtmf_map, map);
        let found = store
            .business_by_number(&mapped.number)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            found.dtmf_map.to_string(),
            "0=transfer,9=goodbye,*=callback"
        );
        let listed: Vec<DtmfMap> = store
            .list_businesses()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.dtmf_map)
            .collect();
        assert_eq!(listed, vec![DtmfMap::default(), map]);

        // Changing something else keeps the map.
        let renamed = store
            .update_business(
                &mapped.number,
                &BusinessChanges {
                    name: Some("מספרת רות".into()),
                    ..Default::default()
                },
                T0 + 1,
            )
            .await
            .unwrap();
        assert_eq!(renamed.dtmf_map.action("9"), Some(DtmfAction::Goodbye));

        let changed = store
            .update_business(
                &mapped.number,
                &BusinessChanges {
                    dtmf_map: Some(Some("5=goodbye".parse().unwrap())),
                    ..Default::default()
                },
                T0 + 2,
            )
            .await
            .unwrap();
        assert_eq!(changed.dtmf_map.to_string(), "5=goodbye");
        assert_eq!(changed.dtmf_map.action("0"), None, "0 is no longer mapped");
        assert_eq!(changed.updated_at_ms, T0 + 2);
        assert_eq!(
            store
                .business_by_id(&mapped.id)
                .await
                .unwrap()
                .unwrap()
                .dtmf_map,
            changed.dtmf_map
        );

        // A map where no key does anything is kept as such, not taken for the default.
        let silent = store
            .update_business(
                &mapped.number,
                &BusinessChanges {
                    dtmf_map: Some(Some(DtmfMap::empty())),
                    ..Default::default()
                },
                T0 + 3,
            )
            .await
            .unwrap();
        assert!(silent.dtmf_map.is_empty());
        assert!(
            store
                .business_by_id(&mapped.id)
                .await
                .unwrap()
                .unwrap()
                .dtmf_map
                .is_empty()
        );

        let cleared = store
            .update_business(
                &mapped.number,
                &BusinessChanges {
                    dtmf_map: Some(None),
                    ..Default::default()
                },
                T0 + 4,
            )
            .await
            .unwrap();
        assert_eq!(cleared.dtmf_map, DtmfMap::default());
        assert_eq!(
            store
                .business_by_number(&mapped.number)
                .await
                .unwrap()
                .unwrap()
                .dtmf_map,
            DtmfMap::default()
        );
    })
    .await;
}

#[tokio::test]
async fn customers_are_found_or_created_once_per_business_and_phone() {
    for_each_store(|store| async move {
        let shop = store
            .create_business(&new_business("+97231234567"), T0)
            .await
            .unwrap();
        let other = store
            .create_business(&new_business("+97239876543"), T0)
            .await
            .unwrap();

        let first = store
            .find_or_create_customer(&shop.id, "+972541234567", T0)
            .await
            .unwrap();
        assert_eq!(
            (
                first.created_at_ms,
                first.last_contact_ms,
                first.name.as_deref()
            ),
            (T0, T0, None)
        );
        let again = store
            .find_or_create_customer(&shop.id, "+972541234567", T0 + 100)
            .await
            .unwrap();
        assert_eq!(again.id, first.id);
        assert_eq!((again.created_at_ms, again.last_contact_ms), (T0, T0 + 100));
        // A late, out-of-order contact does not move the last contact back.
        let late = store
            .find_or_create_customer(&shop.id, "+972541234567", T0 + 50)
            .await
            .unwrap();
        assert_eq!(late.last_contact_ms, T0 + 100);

        let elsewhere = store
            .find_or_create_customer(&other.id, "+972541234567", T0)
            .await
            .unwrap();
        assert_ne!(elsewhere.id, first.id);
        assert_eq!(
            store
                .customer_by_id(&first.id)
                .await
                .unwrap()
                .unwrap()
                .last_contact_ms,
            T0 + 100
        );
        assert_eq!(store.customer_by_id("nope").await.unwrap(), None);

        let second = store
            .find_or_create_customer(&shop.id, "+972529999999", T0 + 200)
            .await
            .unwrap();
        let of_shop = store
            .list_customers(Some(&shop.id), None, 10)
            .await
            .unwrap();
        assert_eq!(
            of_shop.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec![second.id.as_str(), first.id.as_str()]
        );
        assert_eq!(store.list_customers(None, None, 10).await.unwrap().len(), 3);
        assert_eq!(store.list_customers(None, None, 1).await.unwrap().len(), 1);
        let found = store
            .list_customers(Some(&shop.id), Some("9999"), 10)
            .await
            .unwrap();
        assert_eq!(
            found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec![second.id.as_str()]
        );
        assert!(
            store
                .list_customers(None, Some("%"), 10)
                .await
                .unwrap()
                .is_empty(),
            "% is taken literally"
        );
    })
    .await;
}

#[tokio::test]
async fn customers_racing_from_one_phone_get_one_row() {
    for_each_store(|store| async move {
        let shop = store
            .create_business(&new_business("+97231234567"), T0)
            .await
            .unwrap();
        let (a, b, c) = tokio::join!(
            store.find_or_create_customer(&shop.id, "+972541234567", T0),
            store.find_or_create_customer(&shop.id, "+972541234567", T0 + 1),
            store.find_or_create_customer(&shop.id, "+972541234567", T0 + 2),
        );
        let ids: HashSet<String> = [a.unwrap().id, b.unwrap().id, c.unwrap().id].into();
        assert_eq!(ids.len(), 1);
        let all = store
            .list_customers(Some(&shop.id), None, 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].last_contact_ms, T0 + 2);
    })
    .await;
}

#[tokio::test]
async fn opening_hours_default_are_stored_changed_and_reset() {
    use sicha::store::businesses::OpeningHours;
    for_each_store(|store| async move {
        let plain = store
            .create_business(&new_business("+97231234567"), T0)
            .await
            .unwrap();
        assert_eq!(plain.opening_hours, OpeningHours::default());
        let friday: OpeningHours = "sun-thu 09:00-18:00, fri 09:00-13:00".parse().unwrap();
        let with_hours = store
            .create_business(
                &NewBusiness {
                    opening_hours: Some(friday.clone()),
                    ..new_business("+97231234568")
                },
                T0,
            )
            .await
            .unwrap();
        assert_eq!(with_hours.opening_hours, friday);
        let always = BusinessChanges {
            opening_hours: Some(Some(OpeningHours::always())),
            ..Default::default()
        };
        let changed = store
            .update_business("+97231234567", &always, T0 + 1)
            .await
            .unwrap();
        assert_eq!(changed.opening_hours, OpeningHours::always());
        let reset = BusinessChanges {
            opening_hours: Some(None),
            ..Default::default()
        };
        store
            .update_business("+97231234567", &reset, T0 + 2)
            .await
            .unwrap();
        let read = store.business_by_id(&plain.id).await.unwrap().unwrap();
        assert_eq!(read.opening_hours, OpeningHours::default());
        // Other changes leave the hours alone.
        let renamed = BusinessChanges {
            name: Some("שם חדש".into()),
            ..Default::default()
        };
        let read = store
            .update_business("+97231234568", &renamed, T0 + 3)
            .await
            .unwrap();
        assert_eq!(read.opening_hours, friday);
    })
    .await;
}
