//! What the service publishes: people's requests on `miyagi.markets.request` (keyed by symbol,
//! the engine's input), what became of each order on `miyagi.markets.order` (keyed by order id,
//! carrying its owner so the live stream shows it to them alone), and market data on
//! `miyagi.markets.quotes`, one event a minute of market time (pages follow the market live on
//! `/api/v1/markets/stream`), and what each person's account holds on `miyagi.markets.account`
//! (keyed by owner; the advisor advises on those stocks).

use miyagi_domain::{
    events::{topics, types},
    markets::PositionsUpdated,
};
use miyagi_platform::events::CloudEvent;
use serde::Serialize;

use crate::domain::Quote;
use crate::model::{dollars, Order, OrderRecord, Request};

pub const SOURCE: &str = "/miyagi/markets";
pub const REQUEST_TOPIC: &str = topics::MARKETS_REQUEST;
pub const ORDER_TOPIC: &str = topics::MARKETS_ORDER;
pub const QUOTES_TOPIC: &str = topics::MARKETS_QUOTES;
pub const ACCOUNT_TOPIC: &str = topics::MARKETS_ACCOUNT;

pub fn requested(request: &Request) -> CloudEvent {
    let (kind, symbol) = match request {
        Request::Place { order } => (types::MARKETS_ORDER_REQUESTED, &order.symbol),
        Request::Cancel { symbol, .. } => (types::MARKETS_CANCEL_REQUESTED, symbol),
        Request::Replace { symbol, .. } => (types::MARKETS_REPLACE_REQUESTED, symbol),
    };
    CloudEvent::new(SOURCE, kind, symbol.clone(), request)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderUpdated<'a> {
    owner: &'a str,
    #[serde(flatten)]
    order: Order,
}

pub fn order_updated(order: &OrderRecord) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::MARKETS_ORDER_UPDATED,
        order.id.to_string(),
        &OrderUpdated {
            owner: &order.owner,
            order: Order::from(order),
        },
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QuoteData<'a> {
    symbol: &'a str,
    bid: Option<f64>,
    ask: Option<f64>,
    last: Option<f64>,
    volume: u64,
}

pub fn quotes(quotes: &[Quote]) -> CloudEvent {
    let data: Vec<QuoteData> = quotes
        .iter()
        .map(|quote| QuoteData {
            symbol: &quote.symbol,
            bid: quote.bid.map(dollars),
            ask: quote.ask.map(dollars),
            last: quote.last.map(dollars),
            volume: quote.volume,
        })
        .collect();
    CloudEvent::new(
        SOURCE,
        types::MARKETS_QUOTES,
        "market",
        &serde_json::json!({ "quotes": data }),
    )
}

pub fn positions(update: &PositionsUpdated) -> CloudEvent {
    CloudEvent::new(
        SOURCE,
        types::MARKETS_POSITIONS_UPDATED,
        update.owner.clone(),
        update,
    )
}
