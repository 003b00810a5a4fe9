//! The coach's tools: what it may look up for the person it talks to. Every number it states
//! comes from one of them (the profile, the finance engine) or from the sources.
//!
//! A model that calls tools (a remote endpoint) is offered them all and picks; the local model
//! does not call tools, so for it the copilot plans the calls itself, from the question, before
//! the prompt is written (a model call to pick tools would cost it more than a second before
//! the first word). Either way a call goes through the kernel, its filters and its ledger, and
//! is reported with the answer.
//!
//! Each function acts for the kernel's user ([`NativeFunction::for_user`]): the person is never
//! an argument, so a model cannot look up someone else. All of them only read; a tool with an
//! effect (a markets order) will also need the person's approval.

use std::sync::Arc;

use miyagi_domain::{
    advice::{AdviceGenerated, AdviceTrigger},
    document::LIBRARY_OWNER,
    expenses::SpendingSummarised,
    prose,
};
use miyagi_finance::{
    allocation::{Allocation, AssetClass},
    figures,
};
use miyagi_kernel::{chat::ToolCall, KernelError, NativeFunction, Plugin, ToolOutcome};
use miyagi_memory::{
    cite::{self, Passage},
    retrieve::{cosine, RetrievalSettings, Retriever},
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::store::CopilotStore;

pub const PROFILE: &str = "profile-read";
pub const ADVICE: &str = "advice-latest";
pub const PROJECTION: &str = "finance-projection";
pub const REBALANCE: &str = "finance-rebalance";
pub const SEARCH: &str = "documents-search";
pub const SPENDING: &str = "spending-month";
/// Passages a search returns.
const SEARCH_PASSAGES: usize = 3;
const NO_PROFILE: &str = "They have no profile yet: their age, income, assets and risk \
tolerance are unknown. Do not guess them; suggest they fill in their profile.";
const NO_ADVICE: &str = "Miyagi's advisor has not advised them yet; they can ask for advice \
on the Advice page.";
pub const NO_SPENDING: &str =
    "Their spending is not known: they have not imported a full month of \
bank transactions. They can on the Spending page.";
/// How much of the advice the tool states: enough to speak of it, bounded so the figures part
/// of a prompt stays small.
const ADVICE_SENTENCES: usize = 3;
const ADVICE_RECOMMENDATIONS: usize = 8;

#[derive(Deserialize, JsonSchema)]
struct Nothing {}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ProjectionArgs {
    /// Years ahead; by default until the person retires.
    years: Option<u32>,
    /// What they save a year, in dollars; by default 15% of their income.
    annual_savings: Option<f64>,
}

#[derive(Deserialize, JsonSchema)]
struct RebalanceArgs {
    /// What they hold now, by asset class, in percent or any unit.
    current: Vec<Share>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Share {
    /// Stocks, Bonds, Cash or RealEstate.
    asset_class: String,
    amount: f64,
}

#[derive(Deserialize, JsonSchema)]
struct SearchArgs {
    /// What to look for, in words.
    query: String,
}

/// The copilot's plugins, reading the profile copy in `store` and searching `passages`.
pub fn plugins(store: CopilotStore, passages: Arc<dyn Retriever>) -> Vec<Plugin> {
    let profiles = store.clone();
    let profile = NativeFunction::for_user(
        "profile",
        "read",
        "The person's profile (age, retirement age, income, assets, goals) and the finance \
         engine's reading of it: risk score and target asset mix.",
        move |owner: String, _: Nothing| {
            let store = profiles.clone();
            async move {
                let profile = store.profile(&owner).await.map_err(|e| e.to_string())?;
                Ok(profile
                    .as_ref()
                    .map_or(NO_PROFILE.into(), figures::describe))
            }
        },
    );
    let advised = store.clone();
    let advice = NativeFunction::for_user(
        "advice",
        "latest",
        "The latest advice Miyagi's advisor gave the person: when, what it said, and its \
         recommendation for each asset class and stock.",
        move |owner: String, _: Nothing| {
            let store = advised.clone();
            async move {
                let advice = store
                    .latest_advice(&owner)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(advice.as_ref().map_or(NO_ADVICE.into(), advice_text))
            }
        },
    );
    let months = store.clone();
    let spending = NativeFunction::for_user(
        "spending",
        "month",
        "The person's usual month from their own bank transactions: what comes in, what goes \
         out, and what is left.",
        move |owner: String, _: Nothing| {
            let store = months.clone();
            async move {
                let month = store.spending(&owner).await.map_err(|e| e.to_string())?;
                Ok(month.as_ref().map_or(NO_SPENDING.into(), spending_text))
            }
        },
    );
    let projections = store.clone();
    let projection = NativeFunction::for_user(
        "finance",
        "projection",
        "Projects the person's wealth with the finance engine (2,000 simulated markets, in \
         today's money): the middle, poor and strong outcomes after some years of saving.",
        move |owner: String, args: ProjectionArgs| {
            let store = projections.clone();
            async move {
                let profile = store.profile(&owner).await.map_err(|e| e.to_string())?;
                Ok(profile.map_or(NO_PROFILE.into(), |p| {
                    figures::projection(&p, args.years, args.annual_savings)
                }))
            }
        },
    );
    let rebalance = NativeFunction::for_user(
        "finance",
        "rebalance",
        "Compares what the person holds now with the finance engine's target mix, class by \
         class, and says what to buy, sell or hold.",
        move |owner: String, args: RebalanceArgs| {
            let store = store.clone();
            async move {
                let current = Allocation::from_named(
                    args.current
                        .iter()
                        .map(|s| (s.asset_class.as_str(), s.amount)),
                )?;
                let profile = store.profile(&owner).await.map_err(|e| e.to_string())?;
                Ok(profile.map_or(NO_PROFILE.into(), |p| figures::rebalance(&p, &current)))
            }
        },
    );
    let search = NativeFunction::for_user(
        "documents",
        "search",
        "Searches the person's own documents and Miyagi's investing library; returns the most \
         relevant passages, each with the document it is from.",
        move |owner: String, args: SearchArgs| {
            let passages = passages.clone();
            async move {
                let mut found = search(passages.as_ref(), &owner, &args.query, SEARCH_PASSAGES)
                    .await
                    .map_err(|e| e.to_string())?;
                found.truncate(SEARCH_PASSAGES);
                Ok(if found.is_empty() {
                    "Nothing in their documents or the library speaks to that.".to_string()
                } else {
                    cite::sources_block(&found).trim_end().to_string()
                })
            }
        },
    );
    vec![
        Plugin::new("profile", vec![profile]),
        Plugin::new("advice", vec![advice]),
        Plugin::new("finance", vec![projection, rebalance]),
        Plugin::new("documents", vec![search]),
        Plugin::new("spending", vec![spending]),
    ]
}

/// The usual month as the coach reads it, every figure the expenses service's.
fn spending_text(month: &SpendingSummarised) -> String {
    let left = month.monthly_income - month.monthly_spending;
    let share = if month.monthly_income > 0.0 {
        format!(
            " ({:.0}% of what comes in)",
            left / month.monthly_income * 100.0
        )
    } else {
        String::new()
    };
    format!(
        "In a usual month (the average of their last {} full months of bank transactions) they \
         take in ${:.2} and spend ${:.2}, leaving ${:.2}{share}.",
        month.months, month.monthly_income, month.monthly_spending, left
    )
}

/// The advice as the coach reads it: its date and why it was given, the first of its words,
/// and its recommendations.
fn advice_text(advice: &AdviceGenerated) -> String {
    let why = match advice.trigger {
        AdviceTrigger::Request => "they asked for it",
        AdviceTrigger::ProfileUpdated => "their profile changed",
    };
    let mut text = format!(
        "Miyagi's advisor advised them on {} ({why}).",
        advice.created_at.format("%-d %B %Y")
    );
    let said = prose::sentences(&advice.narrative);
    if !said.is_empty() {
        text.push_str("\nIt said: ");
        text.push_str(&said[..said.len().min(ADVICE_SENTENCES)].join(" "));
    }
    if !advice.recommendations.is_empty() {
        text.push_str("\nIts recommendations:");
        for line in advice.recommendations.iter().take(ADVICE_RECOMMENDATIONS) {
            text.push_str("\n- ");
            text.push_str(line);
        }
    }
    text
}

/// The best `per_source` passages for `query` from `owner`'s documents and from the library,
/// most relevant first.
pub async fn search(
    passages: &dyn Retriever,
    owner: &str,
    query: &str,
    per_source: usize,
) -> Result<Vec<Passage>, anyhow::Error> {
    let settings = RetrievalSettings {
        limit: per_source,
        ..Default::default()
    };
    let (own, library) = tokio::join!(
        passages.retrieve(owner, query, None, &settings),
        passages.retrieve(LIBRARY_OWNER, query, None, &settings)
    );
    let mut found = own?;
    found.extend(library?);
    found.sort_by(|a, b| b.relevance.total_cmp(&a.relevance));
    Ok(found)
}

/// Questions a projection answers. A question this close in meaning to one of them is about
/// where the person's money is heading, and gets one.
const PROJECTION_QUESTIONS: [&str; 6] = [
    "How much will I have when I retire?",
    "Am I on track for retirement?",
    "What will my savings be worth in 20 years?",
    "Will my money last?",
    "How much will my portfolio grow?",
    "Can I retire earlier?",
];
/// MiniLM cosine: the example questions score 0.55–0.8 against rephrasings of themselves and
/// under 0.4 against questions about fees, debt or funds.
const PROJECTION_COSINE: f32 = 0.5;

/// The calls the copilot makes before the model writes: the profile always (the coach has to
/// know whom it talks to); for a model that does not call tools, also their latest advice when
/// the question speaks of advice, a projection when it is about where their money is heading, a
/// rebalancing check when it states what they hold. A model that calls tools picks those itself.
#[derive(Default)]
pub struct Planner {
    examples: tokio::sync::OnceCell<Vec<Vec<f32>>>,
}

impl Planner {
    /// `vector` is the question's embedding; `embed` embeds the examples (once).
    pub async fn plan<F, Fut>(
        &self,
        question: &str,
        vector: &[f32],
        embed: F,
        model_calls_tools: bool,
    ) -> Result<Vec<ToolCall>, KernelError>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Vec<f32>>, KernelError>>,
    {
        if model_calls_tools {
            return Ok(vec![call(PROFILE, json!({}))]);
        }
        let examples = self
            .examples
            .get_or_try_init(|| embed(PROJECTION_QUESTIONS.map(String::from).to_vec()))
            .await?;
        let mut calls = vec![call(PROFILE, json!({}))];
        if mentions_advice(question) {
            calls.push(call(ADVICE, json!({})));
        }
        if examples
            .iter()
            .any(|e| cosine(e, vector) >= PROJECTION_COSINE)
        {
            calls.push(call(PROJECTION, json!({})));
        }
        if let Some(mix) = stated_mix(question) {
            calls.push(call(REBALANCE, mix));
        }
        if mentions_spending(question) {
            calls.push(call(SPENDING, json!({})));
        }
        Ok(calls)
    }
}

/// The line of a lookup the answer opens with: a projection's or a rebalancing check's first
/// line, written for the person. So when they ask where their money is heading or what to move,
/// the numbers they read first are the engine's, whatever the model writes after them.
pub fn lead(outcome: &ToolOutcome) -> Option<&str> {
    let text = outcome.result.as_ref().ok()?;
    [PROJECTION, REBALANCE]
        .contains(&outcome.call.name.as_str())
        .then(|| text.lines().next())
        .flatten()
}

fn call(name: &str, arguments: serde_json::Value) -> ToolCall {
    ToolCall {
        id: format!("copilot-{name}"),
        name: name.into(),
        arguments: arguments.to_string(),
    }
}

/// "What did you advise?", "Why was AAPL recommended?": a person asking about their advice
/// names it; a word, unlike a meaning, cannot match a question about fees.
fn mentions_advice(question: &str) -> bool {
    question
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .any(|w| w.starts_with("advi") || w.starts_with("recommend"))
}

/// "How much do I spend?", "Am I over budget?": a question about spending names it.
fn mentions_spending(question: &str) -> bool {
    question
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .any(|w| w.starts_with("spen") || w.starts_with("budget") || w.starts_with("expens"))
}

/// The mix a person states in their question ("I hold 80% stocks and 20% in bonds"), as the
/// rebalancing tool's arguments; `None` when they state none.
pub fn stated_mix(question: &str) -> Option<serde_json::Value> {
    let words: Vec<String> = question
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !(c.is_alphanumeric() || c == '%' || c == '.'))
                .trim_end_matches('.')
                .to_string()
        })
        .collect();
    let mut shares = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let Some(amount) = word.strip_suffix('%').and_then(|n| n.parse::<f64>().ok()) else {
            continue;
        };
        // "80% stocks", "20% in bonds", "10% of it in cash".
        let class = words[i + 1..]
            .iter()
            .take(4)
            .find_map(|w| AssetClass::parse(w));
        if let Some(class) = class {
            shares.push(json!({"assetClass": class.as_str(), "amount": amount}));
        }
    }
    (!shares.is_empty()).then(|| json!({ "current": shares }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stated_mix_becomes_the_rebalancing_tools_arguments() {
        let args =
            stated_mix("I hold 80% stocks, 15% in bonds and 5% of it in cash. Should I rebalance?")
                .unwrap();
        assert_eq!(
            args,
            json!({"current": [
                {"assetClass": "Stocks", "amount": 80.0},
                {"assetClass": "Bonds", "amount": 15.0},
                {"assetClass": "Cash", "amount": 5.0},
            ]})
        );
    }

    #[test]
    fn the_usual_month_is_stated_with_what_is_left_of_it() {
        let month = SpendingSummarised {
            owner: "ann".into(),
            monthly_income: 6000.0,
            monthly_spending: 4500.0,
            months: 3,
            as_of: chrono::Utc::now(),
        };
        assert_eq!(
            spending_text(&month),
            "In a usual month (the average of their last 3 full months of bank transactions) they take in $6000.00 and spend $4500.00, leaving $1500.00 (25% of what comes in)."
        );
    }

    #[test]
    fn a_question_about_spending_looks_up_the_usual_month() {
        assert!(mentions_spending("How much do I spend a month?"));
        assert!(mentions_spending("Am I over budget?"));
        assert!(!mentions_spending("What are index fund fees?"));
    }

    #[test]
    fn a_question_that_names_advice_looks_it_up_and_one_about_fees_does_not() {
        assert!(mentions_advice("What did you advise me last week?"));
        assert!(mentions_advice("Why was MSFT recommended?"));
        assert!(mentions_advice("Should I follow my advice?"));
        assert!(!mentions_advice("What do index funds cost?"));
    }

    #[test]
    fn advice_is_stated_with_its_date_its_first_words_and_its_recommendations() {
        let advice = AdviceGenerated {
            advice_id: uuid::Uuid::nil(),
            owner: "ada".into(),
            user_id: uuid::Uuid::nil(),
            trigger: AdviceTrigger::ProfileUpdated,
            created_at: "2026-11-30T09:00:00Z".parse().unwrap(),
            narrative: "Keep saving. Your mix leans to stocks. Rebalance once a year. \
                        Fees matter. Stay the course."
                .into(),
            recommendations: vec!["Stocks: buy: 55% now, 70% target.".into()],
            cards: vec![],
        };
        assert_eq!(
            advice_text(&advice),
            "Miyagi's advisor advised them on 30 November 2026 (their profile changed).\n\
             It said: Keep saving. Your mix leans to stocks. Rebalance once a year.\n\
             Its recommendations:\n- Stocks: buy: 55% now, 70% target."
        );
    }

    #[test]
    fn a_percentage_that_is_not_a_holding_is_no_mix() {
        assert_eq!(stated_mix("Is a 7% return realistic for me?"), None);
        assert_eq!(stated_mix("What do index funds cost?"), None);
    }
}
