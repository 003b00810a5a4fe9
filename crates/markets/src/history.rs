//! Daily closing prices, the history a simulated market is calibrated from: a CSV with a `Date`
//! column (`YYYY-MM-DD`, oldest first) and one column of prices per symbol.
//!
//! The crate ships three years of it (2020–2022, 20 S&P 500 stocks, from the `skfolio` wheel on
//! PyPI; see `data/LICENSE-skfolio.txt`), so a market runs with no download at all.

use std::io::Read;

const BUNDLED: &str = include_str!("../data/sp500-2020-2022.csv");

#[derive(Debug, Clone, PartialEq)]
pub struct DailyCloses {
    symbols: Vec<String>,
    dates: Vec<String>,
    /// One series per symbol, in the order of `symbols`, oldest first.
    closes: Vec<Vec<f64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("the first column must be `Date`, found `{0}`")]
    NoDateColumn(String),
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
    #[error("at least two days of prices are needed to measure a move, found {0}")]
    TooShort(usize),
    #[error(transparent)]
    Csv(#[from] csv::Error),
}

impl DailyCloses {
    /// The sample shipped with the crate.
    pub fn bundled() -> DailyCloses {
        Self::from_csv(BUNDLED.as_bytes()).expect("the bundled history is valid (tested)")
    }

    pub fn from_csv(reader: impl Read) -> Result<DailyCloses, HistoryError> {
        let mut csv = csv::Reader::from_reader(reader);
        let header = csv.headers()?.clone();
        let first = header.get(0).unwrap_or_default();
        if first != "Date" {
            return Err(HistoryError::NoDateColumn(first.to_string()));
        }
        let symbols: Vec<String> = header.iter().skip(1).map(str::to_string).collect();
        let mut dates: Vec<String> = Vec::new();
        let mut closes = vec![Vec::new(); symbols.len()];
        for record in csv.records() {
            let record = record?;
            let line = record.position().map_or(0, |position| position.line());
            let fail = |message: String| HistoryError::Line { line, message };
            let date = &record[0];
            if !is_iso_date(date) {
                return Err(fail(format!("`{date}` is not a date written YYYY-MM-DD")));
            }
            if dates.last().is_some_and(|last| last.as_str() >= date) {
                return Err(fail(format!("{date} is not after the line before it")));
            }
            for (series, (symbol, field)) in closes
                .iter_mut()
                .zip(symbols.iter().zip(record.iter().skip(1)))
            {
                match field.parse::<f64>() {
                    Ok(price) if price.is_finite() && price > 0.0 => series.push(price),
                    _ => {
                        return Err(fail(format!(
                            "{symbol} has `{field}`, not a positive price"
                        )))
                    }
                }
            }
            dates.push(date.to_string());
        }
        if dates.len() < 2 {
            return Err(HistoryError::TooShort(dates.len()));
        }
        Ok(DailyCloses {
            symbols,
            dates,
            closes,
        })
    }

    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }

    /// The trading days, oldest first.
    pub fn dates(&self) -> &[String] {
        &self.dates
    }

    /// One symbol's closes, oldest first.
    pub fn closes(&self, symbol: &str) -> Option<&[f64]> {
        let index = self.symbols.iter().position(|known| known == symbol)?;
        Some(&self.closes[index])
    }
}

fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
        && matches!(
            &text[5..7],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        )
        && ("01"..="31").contains(&&text[8..10])
}
