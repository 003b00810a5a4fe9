//! What a person's account holds is published on `miyagi.markets.account` after each change,
//! valued, so the advisor can advise on the stocks they hold; a deleted account is published as
//! holding nothing.

use miyagi_domain::markets::PositionsUpdated;
use miyagi_platform::events::{CloudEvent, EventBus};
use miyagi_testing::log;
use reqwest::StatusCode;

use super::*;

const ACCOUNT_TOPIC: &str = miyagi_domain::events::topics::MARKETS_ACCOUNT;

/// A market whose simulated quotes stand still after the first step, so fills are at known
/// prices.
async fn frozen() -> (TestApp, Arc<dyn EventBus>, f64) {
    let (app, bus) = market_and_log(None, true, |config| config.markets.tick_millis = 60_000).await;
    let ask = two_sided(&app, "AAPL").await["ask"].as_f64().unwrap();
    (app, bus, ask)
}

/// The newest holdings published for `owner`, once `done` holds of them.
async fn latest(
    bus: &dyn EventBus,
    owner: &str,
    done: impl Fn(&PositionsUpdated) -> bool,
) -> PositionsUpdated {
    let decode = |event: &CloudEvent| event.data_as::<PositionsUpdated>().unwrap();
    let events = log::events_once(bus, ACCOUNT_TOPIC, owner, |events| {
        events.last().is_some_and(|event| done(&decode(event)))
    })
    .await;
    decode(events.last().unwrap())
}

#[tokio::test]
async fn a_fill_publishes_the_position_valued_at_the_last_trade_with_its_recent_closes() {
    let (app, bus, ask) = frozen().await;
    let (status, placed) = order(&app, "alice", market_order("AAPL", "buy", 10)).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");

    let held = latest(&*bus, "alice", |held| !held.positions.is_empty()).await;
    assert_eq!(held.owner, "alice");
    let [position] = held.positions.as_slice() else {
        panic!("one position: {held:?}");
    };
    assert_eq!((position.symbol.as_str(), position.shares), ("AAPL", 10));
    assert!(
        (position.market_value - ask * 10.0).abs() < 0.005,
        "{position:?}"
    );
    // The 5¢ fee spread over ten shares.
    assert!(
        (position.average_cost - (ask + 0.005)).abs() < 1e-6,
        "{position:?}"
    );
    assert_eq!(position.closes.len(), 60);
    assert!(position.closes.iter().all(|close| *close > 0.0));
}

#[tokio::test]
async fn a_deleted_account_is_published_as_holding_nothing() {
    let (app, bus, _) = frozen().await;
    order(&app, "alice", market_order("AAPL", "buy", 10)).await;
    latest(&*bus, "alice", |held| !held.positions.is_empty()).await;

    log::announce_account_deletion(&*bus, "alice").await;

    latest(&*bus, "alice", |held| held.positions.is_empty()).await;
}
