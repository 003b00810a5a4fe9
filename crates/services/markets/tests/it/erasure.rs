//! Deleting an account deletes the person's paper trading: their open orders leave the books and
//! their orders, fills, positions and account rows go; another person's stay.

use miyagi_testing::log;
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_deleted_account_takes_its_orders_out_of_the_books_and_its_rows_away() {
    let (app, bus) = market_and_log(None, false, |_| {}).await;
    order(&app, "alice", limit("AAPL", "buy", 10, 120.0)).await;
    order(&app, "bob", limit("AAPL", "buy", 5, 119.0)).await;

    log::announce_account_deletion(&*bus, "alice").await;

    eventually(&app, "alice", "/api/v1/orders", |orders| {
        orders == &json!([])
    })
    .await;
    assert_eq!(
        get(&app, "alice", "/api/v1/account").await["opened"],
        json!(false)
    );
    let book = get(&app, "bob", "/api/v1/markets/book/AAPL").await;
    assert_eq!(
        book["bids"],
        json!([{"price": 119.0, "qty": 5, "orders": 1}])
    );
    assert_eq!(
        get(&app, "bob", "/api/v1/orders")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
