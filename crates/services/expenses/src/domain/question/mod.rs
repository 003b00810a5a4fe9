//! Questions about spending in plain language, answered with numbers from the person's own
//! transactions: "How much did I spend on restaurants in March compared to February?"
//!
//! The question is read into a typed query (what to measure, which categories, which period and
//! which to compare with) by rules over its words: month names, "last month", "last 3 months",
//! "compared to", and the categories' own names and descriptions. The numbers come from summing
//! transactions, and the sentence is written around them by code, so no figure is ever a
//! model's guess and no text from the question reaches a database. A question outside what the
//! rules understand is told what can be asked. A category named in other words ("eating out")
//! is found by meaning in `asking.rs`, from the words [`subject_words`] leaves.

use chrono::{Datelike, Months, NaiveDate};
use miyagi_domain::expenses::{is_spending, CATEGORIES};
use serde::Serialize;
use utoipa::ToSchema;

mod answer;

pub use answer::{answer, Answer};

/// What a question asks for, as understood.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    /// `total`, `monthlyAverage`, `largest` or `topCategories`.
    pub measure: &'static str,
    /// A detailed category id, a primary category, or `null` for all spending.
    pub category: Option<String>,
    pub period: Period,
    pub compare_with: Option<Period>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    pub label: String,
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
}

/// What can be asked, said to a person whose question fell outside it.
pub const SUPPORTED: &str = "I can answer how much you spent (overall or on a category, in a month or the last few months, compared with another month), your average per month, your largest purchase, and where most of your money went.";

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Reads `question` asked on `today` into a query, or says why it cannot.
pub fn parse(question: &str, today: NaiveDate) -> Result<Query, String> {
    let text = question.to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let measure = if has("average") || text.contains("per month") || text.contains("a month") {
        "monthlyAverage"
    } else if ["biggest", "largest", "most expensive"]
        .iter()
        .any(|w| text.contains(w))
    {
        "largest"
    } else if has("top")
        || text.contains("most money")
        || text.contains("spend the most")
        || text.contains("spent the most")
        || text.contains("where did")
    {
        "topCategories"
    } else if ["spend", "spent", "spending", "cost", "pay", "paid"]
        .iter()
        .any(|w| has(w))
        || text.contains("how much")
    {
        "total"
    } else {
        return Err(SUPPORTED.into());
    };
    let mut periods = periods(&text, &words, today);
    let period = if periods.is_empty() {
        this_month(today)
    } else {
        periods.remove(0)
    };
    let compares = ["compared", "compare", "versus", "vs", "than"]
        .iter()
        .any(|w| has(w));
    let compare_with = match (compares, periods.into_iter().next()) {
        (_, Some(other)) => Some(other),
        // "… in March compared to before" names no second period: the month before.
        (true, None) => Some(month(period.from - Months::new(1))),
        (false, None) => None,
    };
    Ok(Query {
        measure,
        category: category(&words),
        period,
        compare_with,
    })
}

/// Words that carry the question's grammar, measure and period, not what was bought.
#[rustfmt::skip]
const NOT_SUBJECT: &[&str] = &[
    "how", "much", "many", "what", "whats", "did", "does", "do", "i", "me", "my", "mine", "we",
    "our", "us", "you", "the", "a", "an", "on", "in", "at", "for", "to", "of", "from", "over",
    "during", "by", "with", "and", "or", "is", "was", "were", "are", "be", "been", "have", "has",
    "had", "it", "its", "this", "that", "these", "those", "last", "past", "previous", "year",
    "years", "month", "months", "week", "weeks", "spend", "spent", "spending", "spends", "cost",
    "costs", "pay", "paid", "paying", "money", "total", "altogether", "average", "per", "go",
    "went", "gone", "give", "gave", "put", "compared", "compare", "versus", "vs", "than", "before",
    "so", "far", "all", "biggest", "largest", "top", "most", "where", "s", "purchase", "purchases",
    "bought", "buy", "buying", "monthly", "weekly", "daily",
];

/// The question's words that are not grammar, measure, month or number, in order: what the
/// person says they spent on, when the rules found no category in it ("eating out").
pub fn subject_words(question: &str) -> Vec<String> {
    let text = question.to_lowercase().replace(['’', '\''], "");
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let kept = |w: &&str| {
        !NOT_SUBJECT.contains(w) && !MONTHS.contains(w) && !w.chars().all(|c| c.is_ascii_digit())
    };
    let Some(first) = words.iter().position(kept) else {
        return vec![];
    };
    let last = words.iter().rposition(kept).expect("one is kept");
    // "and" inside the phrase stays ("bikes and scooters"); other grammar goes.
    words[first..=last]
        .iter()
        .filter(|w| kept(w) || **w == "and")
        .map(|w| w.to_string())
        .collect()
}

/// The periods the question names, in the order it names them.
fn periods(text: &str, words: &[&str], today: NaiveDate) -> Vec<Period> {
    let mut found: Vec<(usize, Period)> = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let Some(m) = MONTHS.iter().position(|name| {
            *word == *name
                || (word.len() == 3 && name.starts_with(word) && *word != "may" && *word != "mar")
        }) else {
            // "mar" and "may" are words too; only the full names count for those two.
            continue;
        };
        let year = words
            .get(i + 1)
            .and_then(|w| w.parse::<i32>().ok())
            .filter(|y| (1900..=2200).contains(y));
        let year = year.unwrap_or(if m as u32 + 1 > today.month() {
            today.year() - 1
        } else {
            today.year()
        });
        if let Some(first) = NaiveDate::from_ymd_opt(year, m as u32 + 1, 1) {
            found.push((i, month(first)));
        }
    }
    let mut phrase = |needle: &str, period: Period| {
        if let Some(at) = text.find(needle) {
            found.push((text[..at].split_whitespace().count(), period));
        }
    };
    phrase("this month", this_month(today));
    phrase("last month", month(first_of(today) - Months::new(1)));
    phrase(
        "this year",
        Period {
            label: format!("{}", today.year()),
            from: NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("1 January"),
            to: today,
        },
    );
    for (i, w) in words.iter().enumerate() {
        if matches!(*w, "last" | "past") {
            if let Some(n) = words
                .get(i + 1)
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (1..=36).contains(n))
            {
                if words.get(i + 2).is_some_and(|m| m.starts_with("month")) {
                    let from = first_of(today) - Months::new(n - 1);
                    found.push((
                        i,
                        Period {
                            label: format!("the last {n} months"),
                            from,
                            to: today,
                        },
                    ));
                }
            }
        }
    }
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, p)| p).collect()
}

fn first_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("day 1")
}

fn month(first: NaiveDate) -> Period {
    Period {
        label: first.format("%B %Y").to_string(),
        from: first,
        to: first + Months::new(1) - chrono::Duration::days(1),
    }
}

fn this_month(today: NaiveDate) -> Period {
    Period {
        label: "this month".into(),
        to: today,
        ..month(first_of(today))
    }
}

/// The category the question names: a primary category by its name ("travel", "food"), else
/// the detailed category whose name or description shares the most of the question's words.
fn category(words: &[&str]) -> Option<String> {
    let stem = |w: &str| w.trim_end_matches('s').to_string();
    let asked: Vec<String> = words
        .iter()
        .filter(|w| w.len() >= 4 && !NOT_SUBJECT.contains(w))
        .map(|w| stem(w))
        .collect();
    for (primary, names) in [
        ("FOOD_AND_DRINK", &["food"][..]),
        ("TRAVEL", &["travel", "trip", "vacation", "holiday"]),
        ("ENTERTAINMENT", &["entertainment", "fun"]),
        (
            "TRANSPORTATION",
            &["transportation", "transport", "commute", "car"],
        ),
        ("MEDICAL", &["medical", "health", "healthcare"]),
        (
            "RENT_AND_UTILITIES",
            &["utilitie", "utility", "bill", "housing"],
        ),
        ("GENERAL_MERCHANDISE", &["shopping"]),
    ] {
        if names.iter().any(|n| asked.contains(&stem(n))) {
            return Some(primary.into());
        }
    }
    CATEGORIES
        .iter()
        .filter(|c| is_spending(c.id))
        .map(|c| {
            let own: Vec<String> = format!("{} {}", c.label, c.about)
                .to_lowercase()
                .split(|ch: char| !ch.is_alphanumeric())
                .filter(|w| w.len() >= 4)
                .map(stem)
                .collect();
            (asked.iter().filter(|w| own.contains(w)).count(), c.id)
        })
        .filter(|(hits, _)| *hits > 0)
        .max_by_key(|(hits, _)| *hits)
        .map(|(_, id)| id.to_string())
}

/// The days a query's answer needs transactions from, and to.
pub fn span(query: &Query) -> (NaiveDate, NaiveDate) {
    let mut from = query.period.from;
    let mut to = query.period.to;
    if let Some(other) = &query.compare_with {
        from = from.min(other.from);
        to = to.max(other.to);
    }
    (from, to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::day;

    const TODAY: &str = "2026-12-03";

    #[test]
    fn a_comparison_of_two_months_names_both_and_the_category() {
        let query = parse(
            "How much did I spend on restaurants in March compared to February?",
            day(TODAY),
        )
        .unwrap();
        assert_eq!(
            (query.measure, query.category.as_deref()),
            ("total", Some("FOOD_AND_DRINK_RESTAURANT"))
        );
        assert_eq!(
            (query.period.from, query.period.to),
            (day("2026-03-01"), day("2026-03-31"))
        );
        assert_eq!(query.compare_with.unwrap().label, "February 2026");
    }

    #[test]
    fn a_month_not_yet_come_this_year_is_last_years() {
        let query = parse("what did I spend in december?", day("2026-11-20")).unwrap();
        assert_eq!(query.period.label, "December 2025");
    }

    #[test]
    fn a_primary_category_and_a_relative_month_are_understood() {
        let query = parse("What did I spend on food last month?", day(TODAY)).unwrap();
        assert_eq!(
            (query.category.as_deref(), query.period.label.as_str()),
            (Some("FOOD_AND_DRINK"), "November 2026")
        );
    }

    #[test]
    fn an_average_over_the_last_months_is_a_monthly_average() {
        let query = parse(
            "What is my average spend per month on groceries over the last 3 months?",
            day(TODAY),
        )
        .unwrap();
        assert_eq!(
            (query.measure, query.category.as_deref()),
            ("monthlyAverage", Some("FOOD_AND_DRINK_GROCERIES"))
        );
        assert_eq!(query.period.from, day("2026-10-01"));
    }

    #[test]
    fn the_subject_is_what_is_left_of_a_question_after_its_grammar_and_period() {
        assert_eq!(
            subject_words("What did eating out cost me in October?"),
            vec!["eating", "out"]
        );
        assert_eq!(
            subject_words("How much have I spent at the vet this year?"),
            vec!["vet"]
        );
        assert!(subject_words("How much did I spend in October 2026?").is_empty());
    }

    #[test]
    fn a_question_about_something_else_is_told_what_can_be_asked() {
        assert_eq!(
            parse("Will it rain tomorrow?", day(TODAY)),
            Err(SUPPORTED.to_string())
        );
    }
}
