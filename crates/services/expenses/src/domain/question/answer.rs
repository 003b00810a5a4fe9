//! A question's answer: the figures summed from the person's transactions for the query as it
//! was read, and a sentence written around them by code.

use chrono::Datelike;
use miyagi_domain::expenses::{is_spending, CATEGORIES};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Period, Query};
use crate::domain::categorise;
use crate::model::Transaction;

/// A question's answer: the sentence, and the figures it was written around.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub sentence: String,
    pub figures: Vec<Figure>,
    /// How the question was read; `null` when it was not understood.
    pub query: Option<Query>,
}

impl Answer {
    /// The answer to a question the rules do not understand: what can be asked instead.
    pub fn not_understood(why: String) -> Self {
        Self {
            sentence: why,
            figures: vec![],
            query: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Figure {
    pub label: String,
    pub value: f64,
}

/// Answers `query` from `transactions` (which must cover its periods).
pub fn answer(query: Query, transactions: &[Transaction]) -> Answer {
    let scope = query
        .category
        .as_deref()
        .map_or("spending".to_string(), scope_label);
    let within = |p: &Period| -> Vec<&Transaction> {
        transactions
            .iter()
            .filter(|t| {
                t.date >= p.from && t.date <= p.to && t.amount < 0.0 && is_spending(&t.category)
            })
            .filter(|t| {
                query
                    .category
                    .as_deref()
                    .is_none_or(|c| t.category == c || t.category.starts_with(&format!("{c}_")))
            })
            .collect()
    };
    let spent = |p: &Period| -> f64 { round(within(p).iter().map(|t| -t.amount).sum()) };
    let on = if query.category.is_some() {
        format!(" on {scope}")
    } else {
        String::new()
    };
    let (sentence, figures) = match query.measure {
        "monthlyAverage" => {
            let months = months_in(&query.period);
            let average = round(spent(&query.period) / months as f64);
            (
                format!(
                    "You spent {} a month{on} on average {} ({months} months).",
                    usd(average),
                    during(&query.period)
                ),
                vec![figure("monthly average", average)],
            )
        }
        "largest" => match within(&query.period)
            .into_iter()
            .min_by(|a, b| a.amount.total_cmp(&b.amount))
        {
            Some(t) => (
                format!(
                    "Your largest purchase{on} {} was {} at {} on {}.",
                    during(&query.period),
                    usd(-t.amount),
                    t.payee,
                    t.date
                ),
                vec![figure(&t.payee, -t.amount)],
            ),
            None => (
                format!("You made no purchases{on} {}.", during(&query.period)),
                vec![],
            ),
        },
        "topCategories" => {
            let mut by: Vec<(String, f64)> = Vec::new();
            for t in within(&query.period) {
                let label = categorise::label(&t.category).to_string();
                match by.iter_mut().find(|(l, _)| *l == label) {
                    Some(entry) => entry.1 -= t.amount,
                    None => by.push((label, -t.amount)),
                }
            }
            by.sort_by(|a, b| b.1.total_cmp(&a.1));
            by.truncate(3);
            let list: Vec<String> = by
                .iter()
                .map(|(l, v)| format!("{l} ({})", usd(round(*v))))
                .collect();
            let sentence = if list.is_empty() {
                format!("You spent nothing {}.", during(&query.period))
            } else {
                format!(
                    "Most of your money {} went to {}.",
                    during(&query.period),
                    join(&list)
                )
            };
            (
                sentence,
                by.into_iter().map(|(l, v)| figure(&l, round(v))).collect(),
            )
        }
        _ => {
            let now = spent(&query.period);
            let mut figures = vec![figure(&query.period.label, now)];
            let mut sentence = format!("You spent {}{on} {}", usd(now), during(&query.period));
            if let Some(before) = &query.compare_with {
                let then = spent(before);
                figures.push(figure(&before.label, then));
                let change = now - then;
                let direction = if change >= 0.0 { "more" } else { "less" };
                sentence.push_str(&format!(
                    ", {} {direction} than {} ({})",
                    usd(round(change.abs())),
                    during(before),
                    usd(then)
                ));
                if then > 0.0 {
                    sentence.push_str(&format!(
                        ", {} {:.0}%",
                        if change >= 0.0 { "up" } else { "down" },
                        (change / then * 100.0).abs()
                    ));
                }
            }
            sentence.push('.');
            (sentence, figures)
        }
    };
    Answer {
        sentence,
        figures,
        query: Some(query),
    }
}

/// "this month", "over the last 3 months", "in March 2026": a period as a sentence says it.
fn during(p: &Period) -> String {
    if p.label.starts_with("this ") {
        p.label.clone()
    } else if p.label.starts_with("the last") {
        format!("over {}", p.label)
    } else {
        format!("in {}", p.label)
    }
}

fn scope_label(category: &str) -> String {
    match CATEGORIES.iter().find(|c| c.id == category) {
        Some(c) => c.label.to_lowercase(),
        None => category
            .replace("_AND_", " and ")
            .replace('_', " ")
            .to_lowercase(),
    }
}

fn months_in(p: &Period) -> u32 {
    ((p.to.year() - p.from.year()) * 12 + p.to.month() as i32 - p.from.month() as i32 + 1).max(1)
        as u32
}

fn figure(label: &str, value: f64) -> Figure {
    Figure {
        label: label.into(),
        value,
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn usd(x: f64) -> String {
    let cents = (x.abs() * 100.0).round() as i64;
    let dollars = cents / 100;
    let mut grouped = String::new();
    for (i, d) in dollars.to_string().chars().rev().enumerate() {
        if i > 0 && i % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(d);
    }
    let grouped: String = grouped.chars().rev().collect();
    format!(
        "{}${grouped}.{:02}",
        if x < 0.0 { "-" } else { "" },
        cents % 100
    )
}

fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use crate::model::fixtures::{day, spend};

    const TODAY: &str = "2026-12-03";

    #[test]
    fn the_answer_is_written_around_the_summed_figures() {
        let transactions = [
            spend("2026-03-04", "MARIOS", -300.0, "FOOD_AND_DRINK_RESTAURANT"),
            spend("2026-03-20", "SAKURA", -112.5, "FOOD_AND_DRINK_RESTAURANT"),
            spend("2026-03-21", "KROGER", -80.0, "FOOD_AND_DRINK_GROCERIES"),
            spend("2026-02-11", "MARIOS", -324.3, "FOOD_AND_DRINK_RESTAURANT"),
        ];
        let query = parse(
            "How much did I spend on restaurants in March compared to February?",
            day(TODAY),
        )
        .unwrap();
        let answer = answer(query, &transactions);
        assert_eq!(answer.sentence, "You spent $412.50 on restaurants in March 2026, $88.20 more than in February 2026 ($324.30), up 27%.");
        assert_eq!(
            answer.figures.iter().map(|f| f.value).collect::<Vec<_>>(),
            vec![412.5, 324.3]
        );
    }

    #[test]
    fn the_largest_purchase_names_payee_amount_and_day() {
        let transactions = [
            spend(
                "2026-11-04",
                "BEST BUY",
                -1299.0,
                "GENERAL_MERCHANDISE_ELECTRONICS",
            ),
            spend("2026-11-05", "KROGER", -80.0, "FOOD_AND_DRINK_GROCERIES"),
        ];
        let query = parse("What was my biggest purchase last month?", day(TODAY)).unwrap();
        assert_eq!(
            answer(query, &transactions).sentence,
            "Your largest purchase in November 2026 was $1,299.00 at BEST BUY on 2026-11-04."
        );
    }
}
