//! What a person's transactions say, computed, never written by a model: months summed by
//! category, budgets and where this month's pace leads, spends far from the usual, and payments
//! that come back on a schedule. Pure functions over transactions already read.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use miyagi_domain::expenses::is_spending;

use super::categorise::label;
use crate::model::{
    Anomaly, BudgetStatus, CategoryTotal, ForecastMonth, MonthSummary, Recurring, Transaction,
};

/// `YYYY-MM` of a day.
pub fn month_of(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

fn cents(dollars: f64) -> f64 {
    // `+ 0.0` turns a negative zero (nothing due, negated) into the zero a person expects.
    (dollars * 100.0).round() / 100.0 + 0.0
}

/// Each month's income, spending and savings rate, oldest first. Transfers between a person's
/// own accounts and card payments are neither income nor spending.
pub fn months(transactions: &[Transaction]) -> Vec<MonthSummary> {
    let mut by_month: BTreeMap<String, (f64, BTreeMap<&str, f64>)> = BTreeMap::new();
    for t in transactions {
        let entry = by_month.entry(month_of(t.date)).or_default();
        if t.category.starts_with("INCOME") {
            entry.0 += t.amount;
        } else if is_spending(&t.category) || t.category == miyagi_domain::expenses::UNCATEGORISED {
            *entry.1.entry(t.category.as_str()).or_default() -= t.amount;
        }
    }
    by_month
        .into_iter()
        .map(|(month, (income, categories))| {
            let spending: f64 = categories.values().sum();
            let mut by_category: Vec<CategoryTotal> = categories
                .into_iter()
                .map(|(category, spent)| CategoryTotal {
                    category: category.into(),
                    label: label(category).into(),
                    spent: cents(spent),
                })
                .collect();
            by_category.sort_by(|a, b| b.spent.total_cmp(&a.spent));
            MonthSummary {
                month,
                income: cents(income),
                spending: cents(spending),
                savings_rate: (income > 0.0)
                    .then(|| ((income - spending) / income * 1000.0).round() / 1000.0),
                by_category,
            }
        })
        .collect()
}

/// A budget's month: spent so far, and the month's end at this pace (spent ÷ days gone × days
/// in the month). `today` outside `month` means the month is over (or not begun): no pace.
pub fn budget(
    category: &str,
    limit: f64,
    month_spent: f64,
    month: NaiveDate,
    today: NaiveDate,
) -> BudgetStatus {
    let first = month.with_day(1).expect("day 1 exists");
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("a next month");
    let days = (next - first).num_days() as f64;
    let projected = if today >= first && today < next {
        month_spent / ((today - first).num_days() + 1) as f64 * days
    } else {
        month_spent
    };
    let status = if month_spent > limit {
        "over"
    } else if projected > limit {
        "atRisk"
    } else {
        "ok"
    };
    BudgetStatus {
        category: category.into(),
        label: label(category).into(),
        monthly_limit: limit,
        spent: cents(month_spent),
        remaining: cents(limit - month_spent),
        projected: cents(projected),
        status,
    }
}

/// A score this far from the median, in scaled MADs, is an anomaly (Iglewicz and Hoaglin's cut).
pub const ANOMALY_SCORE: f64 = 3.5;
/// Fewer earlier spends in a category than this say nothing about what is usual there.
const MIN_HISTORY: usize = 5;
/// How far back "usual" reaches: a season of the same category.
const HISTORY_DAYS: i64 = 180;
/// How far from the same date a year before a spend still belongs to the season.
const SEASON_DAYS: i64 = 30;

/// Spends in `since..` that stand out from the same category's spends over the half-year before
/// them: robust z-score 0.6745·(x − median)/MAD, which one earlier outlier cannot move the way
/// it moves a mean and a standard deviation. Only higher spends count: spending less is news
/// nobody needs an alert for. The season is the other baseline: a spend no larger than one the
/// person made in the same category around the same date a year before (December's presents,
/// August's holiday) is their usual for the time of year, not news.
pub fn anomalies(transactions: &[Transaction], since: NaiveDate) -> Vec<Anomaly> {
    let mut found = Vec::new();
    for t in transactions
        .iter()
        .filter(|t| t.date >= since && t.amount < 0.0 && is_spending(&t.category))
    {
        let history: Vec<f64> = transactions
            .iter()
            .filter(|o| o.category == t.category && o.amount < 0.0 && o.id != t.id)
            .filter(|o| o.date < t.date && o.date >= t.date - Duration::days(HISTORY_DAYS))
            .map(|o| -o.amount)
            .collect();
        if history.len() < MIN_HISTORY {
            continue;
        }
        let usual = median(&history);
        let deviations: Vec<f64> = history.iter().map(|x| (x - usual).abs()).collect();
        // A category of identical amounts (a fixed subscription) has no spread; a floor of 5%
        // of the usual keeps a cent's price change from scoring as infinitely odd.
        let mad = median(&deviations).max(usual * 0.05).max(0.01);
        let score = 0.6745 * (-t.amount - usual) / mad;
        if score >= ANOMALY_SCORE && !seasonal(transactions, t) {
            found.push(Anomaly {
                because: format!(
                    "${:.2} at {} is {:.1}× your usual ${:.2} for {}",
                    -t.amount,
                    t.payee,
                    -t.amount / usual,
                    usual,
                    label(&t.category).to_lowercase()
                ),
                transaction: t.clone(),
                score: (score * 10.0).round() / 10.0,
                usual: cents(usual),
            });
        }
    }
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    found
}

/// Whether `t` is no larger than a spend of its category within [`SEASON_DAYS`] of the same day
/// a year before, give or take a quarter (prices and plans move).
fn seasonal(transactions: &[Transaction], t: &Transaction) -> bool {
    let a_year_before = t.date - Duration::days(365);
    let season =
        a_year_before - Duration::days(SEASON_DAYS)..=a_year_before + Duration::days(SEASON_DAYS);
    transactions
        .iter()
        .filter(|o| o.category == t.category && o.amount < 0.0 && season.contains(&o.date))
        .any(|o| -t.amount <= -o.amount * 1.25)
}

/// Payees paid at least three times at a steady interval (weekly, monthly or yearly, within a
/// few days) and a steady amount (within 10% of the median): subscriptions, rent, salaries.
pub fn recurring(transactions: &[Transaction]) -> Vec<Recurring> {
    let mut by_payee: BTreeMap<&str, Vec<&Transaction>> = BTreeMap::new();
    for t in transactions.iter().filter(|t| !t.payee.is_empty()) {
        by_payee.entry(t.payee.as_str()).or_default().push(t);
    }
    let mut found = Vec::new();
    for (payee, mut payments) in by_payee {
        if payments.len() < 3 {
            continue;
        }
        payments.sort_by_key(|t| t.date);
        let gaps: Vec<f64> = payments
            .windows(2)
            .map(|w| (w[1].date - w[0].date).num_days() as f64)
            .collect();
        let gap = median(&gaps);
        let Some((every, slack)) = [
            ("weekly", 7.0, 1.0),
            ("monthly", 30.4, 4.0),
            ("yearly", 365.0, 10.0),
        ]
        .into_iter()
        .find(|(_, days, _)| (gap - days).abs() <= 0.5 * days)
        .map(|(every, _, slack)| (every, slack)) else {
            continue;
        };
        if gaps.iter().any(|g| (g - gap).abs() > slack) {
            continue;
        }
        let amounts: Vec<f64> = payments.iter().map(|t| t.amount).collect();
        let amount = median(&amounts);
        if amounts
            .iter()
            .any(|a| (a - amount).abs() > 0.1 * amount.abs())
        {
            continue;
        }
        let last = payments.last().expect("three or more").date;
        let next = match every {
            "monthly" => last
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(last),
            "yearly" => last
                .checked_add_months(chrono::Months::new(12))
                .unwrap_or(last),
            _ => last + Duration::days(7),
        };
        found.push(Recurring {
            payee: payee.to_string(),
            category: payments.last().expect("three or more").category.clone(),
            every,
            amount: cents(amount),
            occurrences: payments.len(),
            last,
            next,
        });
    }
    found.sort_by(|a, b| a.amount.total_cmp(&b.amount));
    found
}

/// The next `months` months after `today`'s: income at the median of the last three full months,
/// spending as the recurring payments that fall due in each month plus the median of the other
/// spending in those three months. A plain projection of habits, labelled as such, not a model.
pub fn forecast(transactions: &[Transaction], today: NaiveDate, months: u32) -> Vec<ForecastMonth> {
    let this_month = today.with_day(1).expect("day 1");
    let recurring: Vec<Recurring> = recurring(transactions)
        .into_iter()
        .filter(|r| r.amount < 0.0 && is_spending(&r.category))
        .collect();
    let is_recurring = |t: &Transaction| recurring.iter().any(|r| r.payee == t.payee);
    let past: Vec<(f64, f64)> = (1..=3)
        .map(|back| {
            let first = this_month - chrono::Months::new(back);
            let next = first + chrono::Months::new(1);
            let within = transactions
                .iter()
                .filter(|t| t.date >= first && t.date < next);
            let mut income = 0.0;
            let mut other = 0.0;
            for t in within {
                if t.category.starts_with("INCOME") {
                    income += t.amount;
                } else if t.amount < 0.0 && is_spending(&t.category) && !is_recurring(t) {
                    other -= t.amount;
                }
            }
            (income, other)
        })
        .collect();
    if recurring.is_empty()
        && past
            .iter()
            .all(|(income, other)| *income == 0.0 && *other == 0.0)
    {
        // No full month behind today's: a forecast of zeros would only look like one.
        return Vec::new();
    }
    let income = median(&past.iter().map(|p| p.0).collect::<Vec<_>>());
    let other = median(&past.iter().map(|p| p.1).collect::<Vec<_>>());
    (1..=months)
        .map(|ahead| {
            let first = this_month + chrono::Months::new(ahead);
            let next = first + chrono::Months::new(1);
            let due: f64 = recurring
                .iter()
                .map(|r| -r.amount * due_in(r, first, next) as f64)
                .sum();
            ForecastMonth {
                month: month_of(first),
                income: cents(income),
                recurring: cents(due),
                other_spending: cents(other),
                net: cents(income - due - other),
            }
        })
        .collect()
}

/// How many times a recurring payment falls due in `first..next`.
fn due_in(r: &Recurring, first: NaiveDate, next: NaiveDate) -> usize {
    let step = |day: NaiveDate| match r.every {
        "weekly" => day + Duration::days(7),
        "yearly" => day + chrono::Months::new(12),
        _ => day + chrono::Months::new(1),
    };
    let mut day = r.next;
    let mut count = 0;
    while day < next {
        if day >= first {
            count += 1;
        }
        day = step(day);
    }
    count
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.is_empty() {
        0.0
    } else if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{day, spend};

    #[test]
    fn a_month_sums_spending_by_category_and_leaves_transfers_out() {
        let months = months(&[
            spend("2026-11-01", "ACME", 3000.0, "INCOME_WAGES"),
            spend("2026-11-02", "KROGER", -100.0, "FOOD_AND_DRINK_GROCERIES"),
            spend("2026-11-03", "KROGER", -50.0, "FOOD_AND_DRINK_GROCERIES"),
            spend("2026-11-04", "VANGUARD", -1000.0, "TRANSFER_OUT_SAVINGS"),
        ]);
        assert_eq!(months[0].spending, 150.0);
        assert_eq!(months[0].savings_rate, Some(0.95));
        assert_eq!(months[0].by_category[0].label, "Groceries");
    }

    #[test]
    fn a_budget_on_pace_to_overshoot_is_at_risk_before_it_is_over() {
        let status = budget(
            "FOOD_AND_DRINK_RESTAURANT",
            300.0,
            200.0,
            day("2026-11-01"),
            day("2026-11-15"),
        );
        assert_eq!((status.projected, status.status), (400.0, "atRisk"));
        assert_eq!(
            budget("X", 300.0, 301.0, day("2026-11-01"), day("2026-11-15")).status,
            "over"
        );
        assert_eq!(
            budget("X", 300.0, 200.0, day("2026-10-01"), day("2026-11-15")).status,
            "ok",
            "a past month has no pace"
        );
    }

    #[test]
    fn a_spend_far_above_the_categorys_median_is_an_anomaly_and_says_how_far() {
        let mut history = usual_meals(2026);
        history.push(spend(
            "2026-11-10",
            "STEAKHOUSE",
            -400.0,
            "FOOD_AND_DRINK_RESTAURANT",
        ));
        history.push(spend(
            "2026-11-11",
            "CORNER DINER",
            -46.0,
            "FOOD_AND_DRINK_RESTAURANT",
        ));
        let found = anomalies(&history, day("2026-11-01"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].transaction.payee, "STEAKHOUSE");
        assert!(
            found[0]
                .because
                .starts_with("$400.00 at STEAKHOUSE is 9.0× your usual $44.50"),
            "{}",
            found[0].because
        );
    }

    /// Eight restaurant meals of about $45 in the autumn of `year`.
    fn usual_meals(year: i32) -> Vec<Transaction> {
        (1..=8)
            .map(|i| {
                spend(
                    &format!("{year}-10-{:02}", i * 3),
                    "CORNER DINER",
                    -40.0 - i as f64,
                    "FOOD_AND_DRINK_RESTAURANT",
                )
            })
            .collect()
    }

    #[test]
    fn a_spend_like_one_made_at_the_same_time_last_year_is_the_season_not_an_anomaly() {
        let mut history = usual_meals(2026);
        history.push(spend(
            "2025-11-14",
            "STEAKHOUSE",
            -380.0,
            "FOOD_AND_DRINK_RESTAURANT",
        ));
        history.push(spend(
            "2026-11-10",
            "STEAKHOUSE",
            -400.0,
            "FOOD_AND_DRINK_RESTAURANT",
        ));
        assert!(anomalies(&history, day("2026-11-01")).is_empty());

        // Twice last year's is news even in its season.
        history.push(spend(
            "2026-11-12",
            "STEAKHOUSE",
            -800.0,
            "FOOD_AND_DRINK_RESTAURANT",
        ));
        let found = anomalies(&history, day("2026-11-01"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].transaction.amount, -800.0);
    }

    #[test]
    fn the_forecast_takes_usual_income_and_the_payments_due_each_month() {
        let mut history = Vec::new();
        for month in 8..=11 {
            history.push(spend(
                &format!("2026-{month:02}-01"),
                "ACME",
                3000.0,
                "INCOME_WAGES",
            ));
            history.push(spend(
                &format!("2026-{month:02}-05"),
                "NETFLIX",
                -15.0,
                "ENTERTAINMENT_TV_AND_MOVIES",
            ));
            // Two shops a month, nine and then about twenty days apart: habit, not a schedule.
            history.push(spend(
                &format!("2026-{month:02}-03"),
                "KROGER",
                -150.0,
                "FOOD_AND_DRINK_GROCERIES",
            ));
            history.push(spend(
                &format!("2026-{month:02}-12"),
                "KROGER",
                -250.0,
                "FOOD_AND_DRINK_GROCERIES",
            ));
        }
        let ahead = forecast(&history, day("2026-12-03"), 3);
        assert_eq!(
            ahead.iter().map(|m| m.month.as_str()).collect::<Vec<_>>(),
            vec!["2027-01", "2027-02", "2027-03"]
        );
        assert_eq!(
            (ahead[0].income, ahead[0].recurring, ahead[0].other_spending),
            (3000.0, 15.0, 400.0)
        );
        assert_eq!(ahead[0].net, 2585.0);
    }

    #[test]
    fn without_a_full_month_behind_there_is_no_forecast() {
        let this_month = [spend(
            "2026-12-02",
            "KROGER",
            -50.0,
            "FOOD_AND_DRINK_GROCERIES",
        )];
        assert!(forecast(&this_month, day("2026-12-03"), 3).is_empty());
    }

    #[test]
    fn a_steady_monthly_payment_is_recurring_with_its_next_date() {
        let found = recurring(&[
            spend(
                "2026-08-05",
                "NETFLIX",
                -15.49,
                "ENTERTAINMENT_TV_AND_MOVIES",
            ),
            spend(
                "2026-09-05",
                "NETFLIX",
                -15.49,
                "ENTERTAINMENT_TV_AND_MOVIES",
            ),
            spend(
                "2026-10-06",
                "NETFLIX",
                -15.49,
                "ENTERTAINMENT_TV_AND_MOVIES",
            ),
            spend("2026-09-09", "KROGER", -80.0, "FOOD_AND_DRINK_GROCERIES"),
            spend("2026-09-10", "KROGER", -12.0, "FOOD_AND_DRINK_GROCERIES"),
            spend("2026-10-20", "KROGER", -60.0, "FOOD_AND_DRINK_GROCERIES"),
        ]);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].every, found[0].next),
            ("monthly", day("2026-11-06"))
        );
    }
}
