//! How the advice is written: the prompt's arguments (the household and the engine's numbers in
//! plain words), the JSON schema the model must answer in for this request, the answer checked
//! for sense and retried once, and the recommendations that put the engine's action and numbers
//! before the model's note. The narrative opens with the person's own figures, written here
//! from the engine's numbers; the model writes the sentences after them. The model explains; it
//! never decides.

use std::collections::BTreeMap;

use miyagi_domain::user::UserProfile;
use miyagi_finance::{
    allocation::{Action, AssetClass},
    words::{money, percent},
};
use miyagi_kernel::{structured, ChatMessage, Kernel};
use miyagi_memory::cite::{self, Citation, Passage};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    error::AdvisorError,
    model::{
        AssetRecommendation, EngineResult, HouseholdSummary, PersonalizeRequest,
        StockRecommendation, Writing,
    },
    progress::Progress,
    prompts::Prompt,
    sense::Grounds,
    settle::{opening, settle, Review},
};

/// Stocks the model writes a note for (the rest get the engine's reason alone): each note costs
/// decoding time, and the constrained decoder bounds arrays at this length anyway.
const MAX_STOCK_NOTES: usize = 8;
const DEFAULT_ADVISOR: &str = "a patient, plain-spoken fiduciary financial planner";
/// Citations the model may make: two keep a small model's answer inside its token budget.
const MAX_CITATIONS: usize = 2;

/// The model's part of the advice, in the shape [`written_schema`] forces.
#[derive(Debug, Deserialize)]
pub(crate) struct Answer {
    pub(crate) narrative: String,
    pub(crate) assets: Vec<Note>,
    #[serde(default)]
    pub(crate) stocks: Vec<Note>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Note {
    #[serde(alias = "symbol")]
    pub(crate) name: String,
    pub(crate) note: String,
}

/// The advice's words as a person reads them: the code's opening with their own figures, then
/// the model's sentences (or the engine's, where the model's failed twice), the notes that passed
/// the checks for sense, and the citations verified against the passages given.
pub struct Checked {
    pub narrative: String,
    pub assets: Vec<Note>,
    pub stocks: Vec<Note>,
    pub citations: Vec<Citation>,
    pub rejected_citations: Vec<String>,
    pub writing: Writing,
}

/// Writes the advice for the engine's numbers with the kernel's chat model, citing `passages`;
/// `progress` (when a person is watching) sees the narrative as it is written. An answer that
/// fails the checks for sense ([`Grounds`]) is asked for once more with the reasons.
pub async fn write(
    kernel: &Kernel,
    prompt: &Prompt,
    request: &PersonalizeRequest,
    profile: Option<&UserProfile>,
    engine: &EngineResult,
    passages: &[Passage],
    progress: Option<&Progress>,
) -> Result<Checked, AdvisorError> {
    let advisor = request
        .user_info
        .favorite_advisor
        .clone()
        .or_else(|| profile.and_then(|p| p.profile.favorite_advisor.clone()))
        .unwrap_or_else(|| DEFAULT_ADVISOR.to_string());
    let book = request
        .user_info
        .favorite_book
        .clone()
        .or_else(|| profile.and_then(|p| p.profile.favorite_book.clone()))
        .unwrap_or_default();
    let opening = opening(engine);
    let args: BTreeMap<String, Value> = [
        ("advisor", advisor),
        ("book", book),
        ("profile", describe_household(&engine.household)),
        ("facts", describe_engine(engine)),
        ("opening", opening.clone()),
        ("sources", cite::sources_block(passages)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::String(v)))
    .collect();
    let mut chat = prompt.function.request(kernel, args).await?;
    // The passages are left out of what the model's words are checked against: quoting them
    // is citing, and their figures are not the person's.
    let shown: String = chat
        .messages
        .iter()
        .map(|m| {
            passages.iter().fold(m.content.clone(), |text, p| {
                text.replace(p.text.trim(), "\n")
            })
        })
        .collect::<Vec<_>>()
        .join("\n");
    let grounds = Grounds::new(&shown, passages.len());
    // The opening is the code's, so a person watching sees their figures before the model's
    // first word.
    if let Some(progress) = progress {
        progress.narrative(format!("{opening} "));
    }
    let watch = progress.map(|progress| {
        let progress = progress.clone();
        structured::watch_field("narrative", move |text| progress.narrative(text))
    });
    let schema = written_schema(engine);
    let ask = |chat, watch| {
        cite::ask_cited::<Answer>(
            kernel,
            chat,
            "advice",
            schema.clone(),
            passages,
            MAX_CITATIONS,
            watch,
        )
    };
    let first = ask(chat.clone(), watch).await?;
    let review = Review::of(&grounds, &first);
    let mut attempts = vec![(first, review)];
    let problems = attempts[0].1.problems();
    if !problems.is_empty() {
        tracing::info!(
            ?problems,
            "the advice's first answer failed the checks for sense; asking again"
        );
        chat.messages.push(ChatMessage::user(format!(
            "Your answer could not be shown to the person: {}. Write the whole answer again without these problems.",
            problems.join("; ")
        )));
        let second = ask(chat, None).await?;
        let review = Review::of(&grounds, &second);
        attempts.push((second, review));
    }
    Ok(settle(&opening, engine, attempts))
}

fn describe_household(h: &HouseholdSummary) -> String {
    format!(
        "{} years old, retiring at {}, household income {} a year, assets {}, liabilities {}, {} risk tolerance.",
        h.age,
        h.retirement_age,
        money(h.annual_income),
        money(h.assets),
        money(h.liabilities),
        h.tolerance.as_str()
    )
}

fn describe_engine(engine: &EngineResult) -> String {
    let mut lines = vec![format!(
        "Risk score {:.2} (capacity {:.2}, willingness {:.2}), {} years to retirement.",
        engine.risk.score,
        engine.risk.capacity,
        engine.risk.willingness,
        engine.risk.years_to_retirement
    )];
    for class in AssetClass::ALL {
        let target = engine.target.get(class);
        let line = match engine.drift.iter().find(|d| d.class == class) {
            Some(d) => format!(
                "{}: now {}, target {} -> {}.",
                class.as_str(),
                percent(d.current),
                percent(target),
                d.action.as_str()
            ),
            None => format!(
                "{}: target {} -> Buy toward it.",
                class.as_str(),
                percent(target)
            ),
        };
        lines.push(line);
    }
    for s in &engine.stocks.holdings {
        lines.push(format!(
            "{}: {} of the portfolio -> {} ({}).",
            s.symbol,
            percent(s.portfolio_weight),
            s.action.as_str(),
            s.reason
        ));
    }
    let end = engine.projection.at_retirement();
    lines.push(format!(
        "Projected wealth at retirement in today's money: median {}, 1 in 10 chance below {}, 1 in 10 above {}.",
        money(end.p50),
        money(end.p10),
        money(end.p90)
    ));
    lines.join("\n")
}

/// The shape the model must answer in for this request.
fn written_schema(engine: &EngineResult) -> Value {
    let notes = |key: &str, names: Vec<String>| {
        if names.is_empty() {
            return json!({"type": "array", "maxItems": 0});
        }
        json!({
            "type": "array",
            "minItems": names.len(),
            "maxItems": names.len(),
            "items": {
                "type": "object",
                "properties": {
                    key: {"type": "string", "enum": names},
                    "note": {"type": "string", "minLength": 1, "maxLength": 90}
                },
                "required": [key, "note"],
                "additionalProperties": false
            }
        })
    };
    let classes = AssetClass::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    let symbols = engine
        .stocks
        .holdings
        .iter()
        .take(MAX_STOCK_NOTES)
        .map(|s| s.symbol.clone())
        .collect();
    json!({
        "type": "object",
        "properties": {
            "narrative": {"type": "string", "minLength": 1, "maxLength": 300},
            "assets": notes("name", classes),
            "stocks": notes("symbol", symbols)
        },
        "required": ["narrative", "assets", "stocks"],
        "additionalProperties": false
    })
}

fn note_for<'a>(notes: &'a [Note], name: &str) -> &'a str {
    notes
        .iter()
        .find(|n| n.name.eq_ignore_ascii_case(name))
        .map_or("", |n| n.note.trim())
}

pub fn asset_recommendations(
    request: &PersonalizeRequest,
    engine: &EngineResult,
    notes: &[Note],
) -> Vec<AssetRecommendation> {
    AssetClass::ALL
        .iter()
        .map(|&class| {
            // Answer in the caller's words ("HomeEquity") where they used their own.
            let name = request
                .portfolio
                .iter()
                .find(|h| AssetClass::parse(&h.name) == Some(class))
                .map_or_else(|| class.as_str().to_string(), |h| h.name.clone());
            let target = engine.target.get(class);
            let drift = engine.drift.iter().find(|d| d.class == class);
            let (action, numbers) = match drift {
                Some(d) => (
                    d.action,
                    format!(
                        "{} of your portfolio against a {} target",
                        percent(d.current),
                        percent(target)
                    ),
                ),
                None => (
                    Action::Buy,
                    format!("build toward a {} target", percent(target)),
                ),
            };
            let note = note_for(notes, class.as_str());
            AssetRecommendation {
                name,
                action,
                current: drift.map(|d| d.current),
                target,
                gpt_recommendation: format!("{}: {numbers}. {note}", action.as_str())
                    .trim()
                    .to_string(),
            }
        })
        .collect()
}

pub fn stock_recommendations(engine: &EngineResult, notes: &[Note]) -> Vec<StockRecommendation> {
    engine
        .stocks
        .holdings
        .iter()
        .map(|s| StockRecommendation {
            symbol: s.symbol.clone(),
            action: s.action,
            gpt_recommendation: format!(
                "{}: {}. {}",
                s.action.as_str(),
                s.reason,
                note_for(notes, &s.symbol)
            )
            .trim()
            .to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        engine::{compute, household},
        model::fixtures::request,
    };

    #[test]
    fn the_written_schema_allows_exactly_the_requests_classes_and_symbols() {
        let r = request();
        let engine = compute(&household(&r.user_info, None).unwrap(), &r, None, None);
        let schema = written_schema(&engine);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let answer = |symbol: &str| {
            json!({"narrative": "Stay the course.",
                   "assets": [{"name": "Stocks", "note": "a"}, {"name": "Bonds", "note": "b"},
                              {"name": "Cash", "note": "c"}, {"name": "RealEstate", "note": "d"}],
                   "stocks": [{"symbol": symbol, "note": "e"}]})
        };
        assert!(validator.is_valid(&answer("MSFT")));
        assert!(!validator.is_valid(&answer("GME")));
    }

    #[test]
    fn recommendations_carry_the_engines_action_before_the_models_note() {
        let r = request();
        let engine = compute(&household(&r.user_info, None).unwrap(), &r, None, None);
        let notes = vec![Note {
            name: "Stocks".into(),
            note: "Trim gently.".into(),
        }];
        let recs = asset_recommendations(&r, &engine, &notes);
        let stocks = recs.iter().find(|a| a.name == "Stocks").unwrap();
        let drift = engine
            .drift
            .iter()
            .find(|d| d.class == AssetClass::Stocks)
            .unwrap();
        assert_eq!(stocks.action, drift.action);
        assert!(stocks
            .gpt_recommendation
            .starts_with(&format!("{}:", drift.action.as_str())));
        assert!(stocks.gpt_recommendation.ends_with("Trim gently."));
    }
}
