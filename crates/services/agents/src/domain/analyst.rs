//! The equity analyst's two halves. The market half is computed from the bundled daily closes
//! (the last close, the year's return and volatility, the year's range) and what the person
//! holds; the documents half is the summariser's, focused on the symbol, over the passages the
//! person's own documents hold about it, citing their sentences. The model writes only the
//! second half, and only from the passages.

use miyagi_finance::stocks::volatility;
use miyagi_kernel::{Kernel, KernelError};
use miyagi_markets::history::DailyCloses;
use miyagi_memory::{
    cite::{Citation, Passage},
    summarise,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Trading days in a year of closes.
const YEAR: usize = 252;
/// Tokens of passages the summariser reads at a time.
const BUDGET: u32 = 900;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketFacts {
    pub symbol: String,
    /// The day of the last close, `YYYY-MM-DD`.
    pub as_of: String,
    pub close: f64,
    /// Over the last year of closes, as a fraction.
    pub year_return: f64,
    /// Annualised, from the year's daily returns.
    pub volatility: Option<f64>,
    pub year_low: f64,
    pub year_high: f64,
    /// Shares the person's paper account holds.
    pub shares_held: u64,
    /// The facts in one sentence.
    pub summary: String,
}

/// The symbol's market facts, or why there are none.
pub fn market_facts(
    history: &DailyCloses,
    symbol: &str,
    shares_held: u64,
) -> Result<MarketFacts, String> {
    let symbol = symbol.to_ascii_uppercase();
    let closes = history.closes(&symbol).ok_or_else(|| {
        format!(
            "{symbol} has no market data here; one of {}",
            history.symbols().join(", ")
        )
    })?;
    let year = &closes[closes.len().saturating_sub(YEAR + 1)..];
    let close = *year.last().expect("a history has at least two days");
    let first = year[0];
    let (low, high) = year
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
            (lo.min(*c), hi.max(*c))
        });
    let as_of = history.dates().last().cloned().unwrap_or_default();
    let vol = volatility(year);
    let mut summary = format!(
        "{symbol} closed at ${close:.2} on {as_of}, {} over the year before it (between ${low:.2} and ${high:.2})",
        signed_percent(close / first - 1.0)
    );
    if let Some(v) = vol {
        summary.push_str(&format!(", with a volatility of {:.0}% a year", v * 100.0));
    }
    summary.push_str(&match shares_held {
        0 => ". Your paper account holds none.".to_string(),
        n => format!(". Your paper account holds {n} shares."),
    });
    Ok(MarketFacts {
        symbol,
        as_of,
        close,
        year_return: close / first - 1.0,
        volatility: vol,
        year_low: low,
        year_high: high,
        shares_held,
        summary,
    })
}

fn signed_percent(x: f64) -> String {
    if x >= 0.0 {
        format!("up {:.0}%", x * 100.0)
    } else {
        format!("down {:.0}%", -x * 100.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    pub text: String,
    pub citations: Vec<Citation>,
    pub rejected: Vec<String>,
}

/// The analysis: the market facts, then what the person's documents say of the symbol.
pub async fn write(
    kernel: Option<&Kernel>,
    market: &MarketFacts,
    passages: &[Passage],
) -> Result<Analysis, KernelError> {
    if passages.is_empty() {
        return Ok(Analysis {
            text: format!(
                "{}\n\nNone of your documents says anything about {}.",
                market.summary, market.symbol
            ),
            citations: Vec::new(),
            rejected: Vec::new(),
        });
    }
    let (summary, citations, rejected) = match kernel {
        Some(kernel) => {
            let summary =
                summarise::summarise(kernel, passages, BUDGET, Some(&market.symbol)).await?;
            (summary.summary, summary.citations, summary.rejected)
        }
        None => {
            let (quoted, citations) = summarise::quote(passages, Some(&market.symbol));
            (
                quoted,
                citations,
                vec!["no model is configured: the passages are quoted".into()],
            )
        }
    };
    Ok(Analysis {
        text: format!("{}\n\nFrom your documents: {summary}", market.summary),
        citations,
        rejected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facts_are_the_last_close_the_years_move_and_what_is_held() {
        let history = DailyCloses::bundled();
        let facts = market_facts(&history, "msft", 12).unwrap();
        let closes = history.closes("MSFT").unwrap();
        assert_eq!(facts.close, *closes.last().unwrap());
        assert!(facts.year_low <= facts.close && facts.close <= facts.year_high);
        assert!(
            facts
                .summary
                .starts_with(&format!("MSFT closed at ${:.2} on 2022-", facts.close)),
            "{}",
            facts.summary
        );
        assert!(
            facts
                .summary
                .ends_with("Your paper account holds 12 shares."),
            "{}",
            facts.summary
        );
    }

    #[test]
    fn a_symbol_without_history_is_refused_naming_those_there_are() {
        let error = market_facts(&DailyCloses::bundled(), "NOPE", 0).unwrap_err();
        assert!(
            error.starts_with("NOPE has no market data here; one of "),
            "{error}"
        );
        assert!(error.contains("AAPL"), "{error}");
    }
}
