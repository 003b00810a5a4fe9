//! The repository: the same code on SQLite and PostgreSQL, each write with its event.

use miyagi_domain::{events::types, user::RiskTolerance};
use miyagi_platform::{
    db::{testing::fresh, Backend},
    events::CloudEvent,
};
use miyagi_users::{StoreError, UserStore, MIGRATOR};

use miyagi_testing::fixtures::ada;

miyagi_platform::on_both_backends!(
    a_created_profile_reads_back_exactly,
    each_write_enqueues_its_event_in_order,
    an_update_bumps_the_version_and_a_stale_version_is_refused,
    another_owner_can_neither_see_nor_change_a_profile,
    a_deleted_profile_is_gone,
    listing_pages_through_the_owners_profiles_oldest_first,
);

async fn store(backend: Backend) -> (UserStore, tempfile::TempDir) {
    let (db, guard) = fresh(backend, &MIGRATOR).await;
    (UserStore::new(db), guard)
}

async fn outbox_events(store: &UserStore) -> Vec<CloudEvent> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT event FROM miyagi_outbox ORDER BY seq")
        .fetch_all(store.db().pool())
        .await
        .unwrap();
    rows.iter()
        .map(|r| CloudEvent::from_bytes(r.as_bytes()).unwrap())
        .collect()
}

async fn a_created_profile_reads_back_exactly(backend: Backend) {
    let (store, _g) = store(backend).await;
    let created = store.create("alice", ada()).await.unwrap();
    let read = store.get("alice", created.id).await.unwrap();
    assert_eq!(read.profile, ada());
    assert_eq!((read.owner.as_str(), read.version), ("alice", 1));
    assert_eq!(
        read.created_at.timestamp_micros(),
        created.created_at.timestamp_micros()
    );
}

async fn each_write_enqueues_its_event_in_order(backend: Backend) {
    let (store, _g) = store(backend).await;
    let p = store.create("alice", ada()).await.unwrap();
    store.update("alice", p.id, ada(), None).await.unwrap();
    store.delete("alice", p.id, None).await.unwrap();
    let events = outbox_events(&store).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            types::USER_PROFILE_CREATED,
            types::USER_PROFILE_UPDATED,
            types::USER_PROFILE_DELETED
        ]
    );
    assert!(events.iter().all(|e| e.subject == p.id.to_string()));
    assert_eq!(events[1].data["version"], 2);
}

async fn an_update_bumps_the_version_and_a_stale_version_is_refused(backend: Backend) {
    let (store, _g) = store(backend).await;
    let p = store.create("alice", ada()).await.unwrap();
    let mut changed = ada();
    changed.risk_tolerance = RiskTolerance::Aggressive;
    let updated = store
        .update("alice", p.id, changed.clone(), Some(1))
        .await
        .unwrap();
    assert_eq!(
        (updated.version, updated.profile.risk_tolerance),
        (2, RiskTolerance::Aggressive)
    );
    let stale = store
        .update("alice", p.id, ada(), Some(1))
        .await
        .unwrap_err();
    assert!(
        matches!(stale, StoreError::VersionMismatch { current: 2 }),
        "{stale:?}"
    );
    assert_eq!(
        store.get("alice", p.id).await.unwrap().profile,
        changed,
        "the stale write changed nothing"
    );
}

async fn another_owner_can_neither_see_nor_change_a_profile(backend: Backend) {
    let (store, _g) = store(backend).await;
    let p = store.create("alice", ada()).await.unwrap();
    assert!(matches!(
        store.get("mallory", p.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update("mallory", p.id, ada(), None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete("mallory", p.id, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.list("mallory", 50, 0).await.unwrap().is_empty());
    assert_eq!(store.get("alice", p.id).await.unwrap().version, 1);
    assert_eq!(
        outbox_events(&store).await.len(),
        1,
        "refused writes emit nothing"
    );
}

async fn a_deleted_profile_is_gone(backend: Backend) {
    let (store, _g) = store(backend).await;
    let p = store.create("alice", ada()).await.unwrap();
    store.delete("alice", p.id, None).await.unwrap();
    assert!(matches!(
        store.get("alice", p.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete("alice", p.id, None).await,
        Err(StoreError::NotFound)
    ));
}

async fn listing_pages_through_the_owners_profiles_oldest_first(backend: Backend) {
    let (store, _g) = store(backend).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut input = ada();
        input.name = format!("Person {i}");
        ids.push(store.create("alice", input).await.unwrap().id);
    }
    store.create("bob", ada()).await.unwrap();
    let first: Vec<_> = store
        .list("alice", 3, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    let rest: Vec<_> = store
        .list("alice", 3, 3)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!([first, rest].concat(), ids);
}
