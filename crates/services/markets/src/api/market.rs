//! Market data: the symbols, their quotes, a book's depth, bars, and all of it live.

use std::convert::Infallible;

use axum::{
    extract::{Path, Query, State},
    response::sse::{Event, KeepAlive, Sse},
    Json,
};
use futures::{Stream, StreamExt};
use miyagi_markets::history::DailyCloses;
use miyagi_platform::http::Problem;
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::WatchStream;
use utoipa::{IntoParams, ToSchema};

use super::{field, Api};
use crate::domain::{MarketView, Quote, MAX_DEPTH};
use crate::model::dollars;

const TAG: &str = "markets";

/// A traded stock and the last close of its history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Symbol {
    pub symbol: String,
    /// Dollars: the last daily close the simulated market starts from.
    pub previous_close: f64,
    /// Dollars a tick: the smallest step of a price.
    pub tick: f64,
}

/// A symbol of an order, as the OpenAPI document states it: one of the bundled history's, so a
/// generated client offers exactly what the engine trades.
pub(super) fn traded_symbol() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(DailyCloses::bundled().symbols().to_vec()))
        .examples([serde_json::json!("MSFT")])
        .build()
}

/// The symbols traded here (20 S&P 500 stocks; their history ships with Miyagi).
#[utoipa::path(get, path = "/api/v1/markets/symbols", tag = TAG, responses((status = 200, body = [Symbol])))]
pub async fn symbols(State(api): State<Api>) -> Json<Vec<Symbol>> {
    let quotes = api.view.borrow().quotes.clone();
    Json(
        quotes
            .iter()
            .map(|quote| Symbol {
                symbol: quote.symbol.clone(),
                previous_close: dollars(quote.previous_close),
                tick: 0.01,
            })
            .collect(),
    )
}

/// Best prices, last trade and volume, in dollars.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuoteView {
    pub symbol: String,
    pub bid: Option<f64>,
    pub ask: Option<f64>,
    pub last: Option<f64>,
    pub previous_close: f64,
    /// Last (or, before any trade, the middle of the book) against the previous close, percent.
    pub change_percent: Option<f64>,
    /// Shares traded since the market opened.
    pub volume: u64,
}

impl From<&Quote> for QuoteView {
    fn from(quote: &Quote) -> Self {
        let now = quote.last.or(match (quote.bid, quote.ask) {
            (Some(bid), Some(ask)) => Some((bid + ask) / 2),
            _ => None,
        });
        QuoteView {
            symbol: quote.symbol.clone(),
            bid: quote.bid.map(dollars),
            ask: quote.ask.map(dollars),
            last: quote.last.map(dollars),
            previous_close: dollars(quote.previous_close),
            change_percent: now.map(|now| {
                ((now - quote.previous_close) as f64 / quote.previous_close as f64 * 10_000.0)
                    .round()
                    / 100.0
            }),
            volume: quote.volume,
        }
    }
}

/// Every symbol's quote.
#[utoipa::path(get, path = "/api/v1/markets/quotes", tag = TAG, responses((status = 200, body = [QuoteView])))]
pub async fn quotes(State(api): State<Api>) -> Json<Vec<QuoteView>> {
    Json(
        api.view
            .borrow()
            .quotes
            .iter()
            .map(QuoteView::from)
            .collect(),
    )
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LevelView {
    /// Dollars.
    pub price: f64,
    /// Shares resting at the price.
    pub qty: u64,
    pub orders: u32,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookView {
    pub symbol: String,
    /// Best (highest) first.
    pub bids: Vec<LevelView>,
    /// Best (lowest) first.
    pub asks: Vec<LevelView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Levels {
    /// Price levels a side, 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    levels: Option<usize>,
}

/// A book's depth: each price with the shares and orders resting there.
#[utoipa::path(get, path = "/api/v1/markets/book/{symbol}", tag = TAG,
    params(("symbol" = String, Path), Levels),
    responses((status = 200, body = BookView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn book(
    State(api): State<Api>,
    Path(symbol): Path<String>,
    Query(query): Query<Levels>,
) -> Result<Json<BookView>, Problem> {
    let symbol = api.symbol(&symbol)?;
    let levels = query.levels.unwrap_or(10);
    if !(1..=MAX_DEPTH).contains(&levels) {
        return Err(Problem::invalid_fields(vec![field(
            "levels",
            format!("must be from 1 to {MAX_DEPTH}"),
        )]));
    }
    Ok(Json(book_view(&api.view.borrow(), &symbol, levels)))
}

fn book_view(view: &MarketView, symbol: &str, levels: usize) -> BookView {
    let side = |levels_of: &[miyagi_markets::DepthLevel]| {
        levels_of
            .iter()
            .take(levels)
            .map(|level| LevelView {
                price: dollars(level.price.0),
                qty: level.qty.0,
                orders: level.orders,
            })
            .collect()
    };
    let depth = view.depth.get(symbol);
    BookView {
        symbol: symbol.to_string(),
        bids: depth.map_or_else(Vec::new, |d| side(&d.bids)),
        asks: depth.map_or_else(Vec::new, |d| side(&d.asks)),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Candle {
    /// The bar's start: a minute (RFC 3339) or a day (YYYY-MM-DD).
    pub time: String,
    /// Dollars. Daily bars come from closing prices alone, so they have no open, high or low.
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: f64,
    /// Shares; none for daily bars.
    pub volume: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandleQuery {
    /// `1m`: one-minute bars of the simulated market's trades (default); `1d`: daily closes of
    /// the history it was calibrated from.
    #[param(pattern = "^(1m|1d)$")]
    interval: Option<String>,
    /// How many of the latest bars, 1 to 1000 (default 120).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Bars of a symbol's prices, oldest first.
#[utoipa::path(get, path = "/api/v1/markets/candles/{symbol}", tag = TAG,
    params(("symbol" = String, Path), CandleQuery),
    responses((status = 200, body = [Candle]), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn candles(
    State(api): State<Api>,
    Path(symbol): Path<String>,
    Query(query): Query<CandleQuery>,
) -> Result<Json<Vec<Candle>>, Problem> {
    let symbol = api.symbol(&symbol)?;
    let limit = query.limit.unwrap_or(120);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid_fields(vec![field(
            "limit",
            "must be from 1 to 1000",
        )]));
    }
    match query.interval.as_deref().unwrap_or("1m") {
        "1m" => Ok(Json(
            api.store
                .bars(&symbol, limit)
                .await?
                .into_iter()
                .map(|bar| Candle {
                    time: bar.minute.to_rfc3339(),
                    open: Some(dollars(bar.open)),
                    high: Some(dollars(bar.high)),
                    low: Some(dollars(bar.low)),
                    close: dollars(bar.close),
                    volume: Some(bar.volume),
                })
                .collect(),
        )),
        "1d" => {
            let closes = api
                .history
                .closes(&symbol)
                .expect("a known symbol has closes");
            let skip = closes.len().saturating_sub(limit as usize);
            Ok(Json(
                api.history.dates()[skip..]
                    .iter()
                    .zip(&closes[skip..])
                    .map(|(date, close)| Candle {
                        time: date.clone(),
                        open: None,
                        high: None,
                        low: None,
                        close: *close,
                        volume: None,
                    })
                    .collect(),
            ))
        }
        other => Err(Problem::invalid_fields(vec![field(
            "interval",
            format!("`{other}` is not an interval here; use 1m or 1d"),
        )])),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The symbol whose book each update carries.
    symbol: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MarketUpdate {
    quotes: Vec<QuoteView>,
    book: BookView,
}

/// Every quote and one book, each time the market changes (server-sent events named `market`).
#[utoipa::path(get, path = "/api/v1/markets/stream", tag = TAG, params(StreamQuery),
    responses((status = 200, content_type = "text/event-stream"), (status = 404, body = Problem)))]
pub async fn stream(
    State(api): State<Api>,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let symbol = api.symbol(&query.symbol)?;
    let updates = WatchStream::new(api.view.clone()).map(move |view| {
        let update = MarketUpdate {
            quotes: view.quotes.iter().map(QuoteView::from).collect(),
            book: book_view(&view, &symbol, 10),
        };
        Ok(Event::default()
            .event("market")
            .json_data(update)
            .expect("market updates serialize"))
    });
    Ok(Sse::new(updates).keep_alive(KeepAlive::default()))
}
