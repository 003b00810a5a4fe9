//! Orders a person approved in an agent run arrive as events: each is placed once under the id
//! the run gave it, however often the event is delivered, and one the checks refuse is recorded
//! as rejected with the reason.

use miyagi_domain::{
    agents::{ApprovedOrder, OrdersApproved},
    events::{topics, types},
};
use miyagi_platform::events::{CloudEvent, Record};
use uuid::Uuid;

use super::*;

fn approved(orders: Vec<ApprovedOrder>) -> CloudEvent {
    CloudEvent::new(
        "/miyagi/agents",
        types::AGENTS_ORDERS_APPROVED,
        "alice",
        &OrdersApproved {
            owner: "alice".into(),
            run_id: Uuid::now_v7(),
            step: 2,
            orders,
        },
    )
}

#[tokio::test]
async fn an_approved_order_delivered_twice_is_placed_once_and_a_refused_one_says_why() {
    let (app, bus) = market_and_log(None, false, |_| {}).await;
    let buy = ApprovedOrder {
        id: Uuid::now_v7(),
        symbol: "AAPL".into(),
        side: "buy".into(),
        qty: 5,
    };
    let unknown = ApprovedOrder {
        id: Uuid::now_v7(),
        symbol: "NOPE".into(),
        side: "sell".into(),
        qty: 1,
    };
    // Two deliveries of one approval: two events, as a redelivery after a crash would be.
    for _ in 0..2 {
        let event = approved(vec![buy.clone(), unknown.clone()]);
        bus.publish(vec![Record::event(topics::AGENTS, &event)])
            .await
            .unwrap();
    }
    eventually(&app, "alice", "/api/v1/orders", |orders| {
        orders.as_array().unwrap().len() >= 2
            && orders
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["status"] != "received")
    })
    .await;
    // Time for the second delivery to be handled too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let orders = get(&app, "alice", "/api/v1/orders").await;
    let orders = orders.as_array().unwrap();
    assert_eq!(orders.len(), 2, "{orders:?}");
    let placed = orders.iter().find(|o| o["id"] == json!(buy.id)).unwrap();
    assert_eq!(
        (placed["symbol"].as_str(), placed["qty"].as_u64()),
        (Some("AAPL"), Some(5))
    );
    let refused = orders
        .iter()
        .find(|o| o["id"] == json!(unknown.id))
        .unwrap();
    assert_eq!(refused["status"], "rejected");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("NOPE is not traded here"),
        "{refused}"
    );
}
