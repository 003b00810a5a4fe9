//! HTTP API: market data under `/api/v1/markets` (`market`), a person's orders, positions and
//! account (`trading`). Market data is the same for everyone; everything else is the caller's own,
//! and another person's order answers 404 like a missing one.

mod market;
mod trading;

pub(crate) use trading::place_approved;

use std::sync::Arc;

use miyagi_markets::history::DailyCloses;
use miyagi_platform::http::{FieldError, Problem};
use tokio::sync::watch;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::{MarketView, Settings};
use crate::store::MarketsStore;

#[derive(Clone)]
pub struct Api {
    pub store: MarketsStore,
    pub view: watch::Receiver<Arc<MarketView>>,
    pub settings: Settings,
    pub history: Arc<DailyCloses>,
}

pub fn routes(api: Api) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(market::symbols))
        .routes(routes!(market::quotes))
        .routes(routes!(market::book))
        .routes(routes!(market::candles))
        .routes(routes!(market::stream))
        .routes(routes!(trading::place, trading::list))
        .routes(routes!(trading::get, trading::cancel, trading::replace))
        .routes(routes!(trading::positions))
        .routes(routes!(trading::account))
        .with_state(api)
}

impl Api {
    /// The symbol as the books name it, or a 404 naming the symbols there are.
    fn symbol(&self, symbol: &str) -> Result<String, Problem> {
        let symbol = symbol.to_ascii_uppercase();
        if self.history.closes(&symbol).is_some() {
            Ok(symbol)
        } else {
            Err(Problem::not_found(&format!(
                "symbol {symbol} (traded here: {})",
                self.history.symbols().join(", ")
            )))
        }
    }
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}
