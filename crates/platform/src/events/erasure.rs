//! Erasing a person's events from the copies a service keeps beside the log.
//!
//! [`EventBus::erase`](super::EventBus::erase) turns the log's records into tombstones, but a
//! service also keeps events of its own: the dead letters its consumers parked
//! ([`super::dead_letters`]) and the outbox records the bus refused (`miyagi_outbox_parked`).
//! An operator reading those would still see the person's data, so an erasure is complete only
//! when they are tombstones too. The same rule as the log's: the event that asked for the
//! erasure (`sparing`) stays whole, and erasing twice changes nothing.

use miyagi_domain::{user::AccountDeleted, RESERVED_PREFIX};
use sqlx::Row;

use super::{CloudEvent, EventBus, HandlerError};
use crate::db::Db;

/// The person a `miyagi.user.account.deleted.v1` event names. A reserved owner (the system's
/// own, such as the shared library) is no person's to delete: refused for good, whatever `what`
/// the service would have deleted.
pub fn deleted_account(event: &CloudEvent, what: &str) -> Result<String, HandlerError> {
    let AccountDeleted { user } = event.data_as()?;
    if user.starts_with(RESERVED_PREFIX) {
        return Err(HandlerError::Permanent(anyhow::anyhow!(
            "refusing to delete the {what} of reserved owner {user:?}"
        )));
    }
    Ok(user)
}

/// A deleted person's events on `topic` (keyed by them) made tombstones everywhere: in the log
/// and in the copies `db` keeps beside it; all but the event `sparing`, which asked for it. How
/// many of the log's records changed.
pub async fn erase_person(
    bus: &dyn EventBus,
    db: &Db,
    topic: &str,
    person: &str,
    sparing: &str,
) -> Result<u64, HandlerError> {
    let erased = bus
        .erase(topic, person, sparing)
        .await
        .map_err(|e| HandlerError::Transient(e.into()))?;
    erase_kept_copies(db, topic, person, sparing).await?;
    Ok(erased)
}

/// Tombstones the dead letters and parked outbox records of `topic` under `key` in `db`, all but
/// the event with id `sparing`; how many changed.
pub async fn erase_kept_copies(
    db: &Db,
    topic: &str,
    key: &str,
    sparing: &str,
) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut erased = 0;
    let letters = sqlx::query(
        "SELECT id, record FROM miyagi_dead_letters \
         WHERE topic = $1 AND record_key = $2 AND (event_id IS NULL OR event_id <> $3)",
    )
    .bind(topic)
    .bind(key)
    .bind(sparing)
    .fetch_all(&mut *tx)
    .await?;
    for row in letters {
        let (id, record): (String, String) = (row.try_get("id")?, row.try_get("record")?);
        if let Some(tombstone) = tombstone_of(&record) {
            sqlx::query("UPDATE miyagi_dead_letters SET record = $1 WHERE id = $2")
                .bind(tombstone)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            erased += 1;
        }
    }
    let parked = sqlx::query(
        "SELECT seq, event FROM miyagi_outbox_parked \
         WHERE topic = $1 AND record_key = $2 AND event_id <> $3",
    )
    .bind(topic)
    .bind(key)
    .bind(sparing)
    .fetch_all(&mut *tx)
    .await?;
    for row in parked {
        let (seq, event): (i64, String) = (row.try_get("seq")?, row.try_get("event")?);
        if let Some(tombstone) = tombstone_of(&event) {
            sqlx::query("UPDATE miyagi_outbox_parked SET event = $1 WHERE seq = $2")
                .bind(tombstone)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            erased += 1;
        }
    }
    tx.commit().await?;
    Ok(erased)
}

/// The tombstone to store in place of `text`; `None` when it is one already. A record that is
/// not an envelope at all (a poison record) keeps nothing: it may hold anything.
fn tombstone_of(text: &str) -> Option<String> {
    match CloudEvent::from_bytes(text.as_bytes()) {
        Ok(event) if event.erased => None,
        Ok(event) => Some(String::from_utf8(event.tombstone().to_bytes()).expect("JSON is UTF-8")),
        Err(_) if text == "null" => None,
        Err(_) => Some("null".into()),
    }
}

#[cfg(test)]
mod tests {
    use miyagi_domain::events::types;

    use super::*;

    fn deletion(user: &str) -> CloudEvent {
        let payload = AccountDeleted { user: user.into() };
        CloudEvent::new("/test", types::USER_ACCOUNT_DELETED, user, &payload)
    }

    #[test]
    fn a_persons_account_deletion_names_them() {
        assert_eq!(deleted_account(&deletion("ada"), "images").unwrap(), "ada");
    }

    #[test]
    fn the_systems_own_data_is_never_deleted_by_an_event() {
        let refused = deleted_account(&deletion("miyagi:library"), "documents").unwrap_err();
        assert!(matches!(&refused, HandlerError::Permanent(e)
            if e.to_string() == r#"refusing to delete the documents of reserved owner "miyagi:library""#));
    }
}
