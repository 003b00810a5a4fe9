//! The copilot's store: the same code on SQLite and PostgreSQL, each change with its event, and
//! events that carry ids, never what was said.

use miyagi_copilot::{CopilotStore, NewMemory, NewMessage, MIGRATOR};
use miyagi_domain::{
    advice::{AdviceGenerated, AdviceTrigger},
    chat::{Author, MemoryKind},
    events::types,
    expenses::SpendingSummarised,
};
use miyagi_platform::{
    db::{testing::fresh, Backend},
    events::CloudEvent,
};

miyagi_platform::on_both_backends!(
    messages_are_numbered_in_order_and_paged_back_from_the_newest,
    a_redelivered_extraction_remembers_nothing_twice,
    deleting_a_chat_takes_its_working_memory_and_keeps_the_long_term,
    another_owner_sees_no_chat_message_or_memory,
    events_carry_ids_and_never_what_was_said,
    a_persons_chat_events_share_one_key_across_their_chats,
    the_advice_copy_keeps_the_newest_and_goes_with_its_profile_and_account,
    the_usual_month_copy_keeps_the_newest_and_is_forgotten_when_unknown,
);

async fn store(backend: Backend) -> (CopilotStore, tempfile::TempDir) {
    let (db, guard) = fresh(backend, &MIGRATOR).await;
    (CopilotStore::new(db), guard)
}

fn question(content: &str) -> NewMessage<'_> {
    NewMessage {
        author: Author::User,
        content,
        citations: &[],
        details: None,
    }
}

fn memory(kind: MemoryKind, text: &str) -> NewMemory {
    NewMemory {
        kind,
        text: text.into(),
        embedding: vec![0.5, -0.25, 1.0],
    }
}

async fn outbox(store: &CopilotStore) -> Vec<(String, CloudEvent)> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT topic, event FROM miyagi_outbox ORDER BY seq")
            .fetch_all(store.db().pool())
            .await
            .unwrap();
    rows.into_iter()
        .map(|(topic, e)| (topic, CloudEvent::from_bytes(e.as_bytes()).unwrap()))
        .collect()
}

async fn messages_are_numbered_in_order_and_paged_back_from_the_newest(backend: Backend) {
    let (store, _g) = store(backend).await;
    let chat = store.create_chat("ada", "t", "p", 0.5).await.unwrap();
    for i in 1..=5 {
        let m = store
            .add_message("ada", chat.id, question(&format!("q{i}")))
            .await
            .unwrap();
        assert_eq!(m.seq, i);
    }
    let newest = store.messages("ada", chat.id, None, 2).await.unwrap();
    let seqs: Vec<i64> = newest.messages.iter().map(|m| m.seq).collect();
    assert_eq!((seqs, newest.next_cursor), (vec![4, 5], Some(4)));
    let older = store.messages("ada", chat.id, Some(4), 10).await.unwrap();
    let seqs: Vec<i64> = older.messages.iter().map(|m| m.seq).collect();
    assert_eq!((seqs, older.next_cursor), (vec![1, 2, 3], None));
}

async fn a_redelivered_extraction_remembers_nothing_twice(backend: Backend) {
    let (store, _g) = store(backend).await;
    let chat = store.create_chat("ada", "t", "p", 0.5).await.unwrap();
    let m = store
        .add_message("ada", chat.id, question("I like bonds."))
        .await
        .unwrap();
    let first = store
        .remember(
            "g",
            "event-1",
            "ada",
            chat.id,
            m.id,
            vec![memory(MemoryKind::Preference, "I like bonds.")],
        )
        .await
        .unwrap();
    assert_eq!(first.unwrap().len(), 1);
    let again = store
        .remember(
            "g",
            "event-1",
            "ada",
            chat.id,
            m.id,
            vec![memory(MemoryKind::Preference, "I like bonds.")],
        )
        .await
        .unwrap();
    assert!(again.is_none());
    assert_eq!(store.memories("ada", None).await.unwrap().len(), 1);
}

async fn deleting_a_chat_takes_its_working_memory_and_keeps_the_long_term(backend: Backend) {
    let (store, _g) = store(backend).await;
    let chat = store.create_chat("ada", "t", "p", 0.5).await.unwrap();
    let m = store
        .add_message("ada", chat.id, question("x"))
        .await
        .unwrap();
    store
        .remember(
            "g",
            "e",
            "ada",
            chat.id,
            m.id,
            vec![
                memory(MemoryKind::Goal, "I plan to retire at 55."),
                memory(MemoryKind::Context, "I am comparing two pensions."),
            ],
        )
        .await
        .unwrap();
    let other = store.create_chat("ada", "t2", "p", 0.5).await.unwrap();
    let recallable = store.recallable("ada", other.id).await.unwrap();
    assert_eq!(
        recallable.len(),
        1,
        "another chat recalls only the long-term memory"
    );
    assert_eq!(recallable[0].1, vec![0.5, -0.25, 1.0], "with its vector");

    store.delete_chat("ada", chat.id).await.unwrap();
    let left = store.memories("ada", None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].text, "I plan to retire at 55.");
    assert_eq!(left[0].chat_id, None);
    assert!(store.message("ada", m.id).await.unwrap().is_none());
}

async fn another_owner_sees_no_chat_message_or_memory(backend: Backend) {
    let (store, _g) = store(backend).await;
    let chat = store.create_chat("ada", "t", "p", 0.5).await.unwrap();
    let m = store
        .add_message("ada", chat.id, question("mine"))
        .await
        .unwrap();
    store
        .remember(
            "g",
            "e",
            "ada",
            chat.id,
            m.id,
            vec![memory(MemoryKind::Fact, "I have a cat.")],
        )
        .await
        .unwrap();
    let memory_id = store.memories("ada", None).await.unwrap()[0].id;
    assert!(store.chat("eve", chat.id).await.is_err());
    assert!(store.chats("eve", 50).await.unwrap().is_empty());
    assert!(store.messages("eve", chat.id, None, 50).await.is_err());
    assert!(store.message("eve", m.id).await.unwrap().is_none());
    assert!(store
        .add_message("eve", chat.id, question("hijack"))
        .await
        .is_err());
    assert!(store.memories("eve", None).await.unwrap().is_empty());
    assert!(store.recallable("eve", chat.id).await.unwrap().is_empty());
    assert!(store
        .update_memory("eve", memory_id, None, Some(MemoryKind::Goal))
        .await
        .is_err());
    assert!(store.delete_memory("eve", memory_id).await.is_err());
    assert!(store.delete_chat("eve", chat.id).await.is_err());
    assert_eq!(
        store.memories("ada", None).await.unwrap()[0].kind,
        MemoryKind::Fact
    );
}

async fn events_carry_ids_and_never_what_was_said(backend: Backend) {
    let (store, _g) = store(backend).await;
    let chat = store
        .create_chat("ada", "Secret plans", "p", 0.5)
        .await
        .unwrap();
    let m = store
        .add_message("ada", chat.id, question("My salary is 91234."))
        .await
        .unwrap();
    store
        .remember(
            "g",
            "e",
            "ada",
            chat.id,
            m.id,
            vec![memory(MemoryKind::Fact, "My salary is 91234.")],
        )
        .await
        .unwrap();
    let memory_id = store.memories("ada", None).await.unwrap()[0].id;
    store.delete_memory("ada", memory_id).await.unwrap();
    store.delete_chat("ada", chat.id).await.unwrap();
    let events = outbox(&store).await;
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|(topic, e)| (topic.as_str(), e.event_type.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("miyagi.chat", types::CHAT_CREATED),
            ("miyagi.chat", types::CHAT_MESSAGE_CREATED),
            ("miyagi.memory", types::MEMORY_EXTRACTED),
            ("miyagi.memory", types::MEMORY_DELETED),
            ("miyagi.chat", types::CHAT_DELETED),
        ]
    );
    for (_, event) in &events {
        let payload = event.data.to_string();
        assert!(
            !payload.contains("91234") && !payload.contains("Secret"),
            "{payload}"
        );
        assert_eq!(event.data["owner"], "ada");
    }
}

async fn a_persons_chat_events_share_one_key_across_their_chats(backend: Backend) {
    let (store, _g) = store(backend).await;
    for title in ["one", "two"] {
        let chat = store.create_chat("ada", title, "p", 0.5).await.unwrap();
        store
            .add_message("ada", chat.id, question("I plan to retire at 55."))
            .await
            .unwrap();
    }
    let keys: Vec<String> = outbox(&store)
        .await
        .into_iter()
        .filter(|(topic, _)| topic == "miyagi.chat")
        .map(|(_, e)| e.subject)
        .collect();
    assert_eq!(
        keys, ["ada"; 4],
        "one partition, so extraction sees them in order"
    );
}

fn advice(profile: uuid::Uuid, day: u32, said: &str) -> AdviceGenerated {
    AdviceGenerated {
        advice_id: uuid::Uuid::now_v7(),
        owner: "ada".into(),
        user_id: profile,
        trigger: AdviceTrigger::Request,
        created_at: format!("2026-11-{day:02}T09:00:00Z").parse().unwrap(),
        narrative: said.into(),
        recommendations: vec![],
        cards: vec![],
    }
}

async fn the_advice_copy_keeps_the_newest_and_goes_with_its_profile_and_account(backend: Backend) {
    let (store, _g) = store(backend).await;
    let (first, second) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    store
        .upsert_advice(&advice(first, 20, "newer"))
        .await
        .unwrap();
    // Events from two profiles' partitions can arrive out of order.
    store
        .upsert_advice(&advice(second, 10, "older"))
        .await
        .unwrap();
    let latest = store.latest_advice("ada").await.unwrap().unwrap();
    assert_eq!(latest.narrative, "newer");
    assert_eq!(store.latest_advice("bob").await.unwrap(), None);

    store.delete_advice_for("ada", second).await.unwrap();
    assert!(
        store.latest_advice("ada").await.unwrap().is_some(),
        "not that profile's advice"
    );
    store.delete_advice_for("ada", first).await.unwrap();
    assert_eq!(store.latest_advice("ada").await.unwrap(), None);

    store
        .upsert_advice(&advice(first, 21, "again"))
        .await
        .unwrap();
    store.delete_account("ada").await.unwrap();
    assert_eq!(store.latest_advice("ada").await.unwrap(), None);
}

async fn the_usual_month_copy_keeps_the_newest_and_is_forgotten_when_unknown(backend: Backend) {
    let (store, _g) = store(backend).await;
    let now = chrono::Utc::now();
    let month = |spending: f64, months: u32, as_of| SpendingSummarised {
        owner: "ann".into(),
        monthly_income: 5000.0,
        monthly_spending: spending,
        months,
        as_of,
    };
    store.upsert_spending(&month(3000.0, 3, now)).await.unwrap();
    store
        .upsert_spending(&month(9999.0, 3, now - chrono::Duration::minutes(1)))
        .await
        .unwrap();
    let kept = store.spending("ann").await.unwrap().unwrap();
    assert_eq!(
        kept.monthly_spending, 3000.0,
        "an older summary changes nothing"
    );
    assert!(store.spending("bob").await.unwrap().is_none());
    store
        .upsert_spending(&month(0.0, 0, now + chrono::Duration::minutes(1)))
        .await
        .unwrap();
    assert!(store.spending("ann").await.unwrap().is_none());
}
