//! What the later stages compare a payee with, embedded once per process: the known merchants'
//! names and each category's description. And the model's turn, choosing among the categories
//! nearest in meaning.

use miyagi_domain::expenses::{category, CATEGORIES, UNCATEGORISED};
use miyagi_kernel::{ChatMessage, EmbeddingModel, Kernel, KernelError};
use serde_json::json;

use super::categorise::{label, Example, ExampleKind, Filed};
use super::merchants::MERCHANTS;
use miyagi_domain::expenses::CategorySource;

pub struct Catalogue {
    pub examples: Vec<Example>,
}

impl Catalogue {
    pub async fn embed(embedder: &dyn EmbeddingModel) -> Result<Self, KernelError> {
        let mut entries: Vec<(String, &str, ExampleKind)> = MERCHANTS
            .iter()
            .map(|(name, id)| (name.to_string(), *id, ExampleKind::Merchant))
            .collect();
        entries.extend(
            CATEGORIES
                .iter()
                .filter(|c| c.id != UNCATEGORISED)
                .map(|c| {
                    (
                        format!("{}: {}", c.label, c.about),
                        c.id,
                        ExampleKind::Category,
                    )
                }),
        );
        let texts: Vec<String> = entries.iter().map(|(text, _, _)| text.clone()).collect();
        let vectors = embedder.embed(&texts).await?;
        Ok(Self {
            examples: entries
                .into_iter()
                .zip(vectors)
                .map(|((text, id, kind), vector)| Example {
                    text,
                    category: id.into(),
                    kind,
                    vector,
                })
                .collect(),
        })
    }
}

/// Asks the model which of `shortlist` a transaction belongs to. The description is the bank's
/// text, untrusted: whatever it says, the answer is held to the shortlist (the schema's enum,
/// enforced while the local model writes, checked after a remote one has).
pub async fn choose(
    kernel: &Kernel,
    description: &str,
    amount: f64,
    shortlist: &[String],
) -> Result<Filed, KernelError> {
    let options: Vec<String> = shortlist
        .iter()
        .filter(|id| category(id).is_some())
        .cloned()
        .collect();
    if options.is_empty() {
        return Ok(Filed::unknown());
    }
    let direction = if amount < 0.0 { "paid out" } else { "received" };
    // Two worked examples: a model this small follows a pattern far better than an instruction.
    let mut messages = vec![ChatMessage::system(
        "You file bank transactions into spending categories. Answer with the one category that fits best.",
    )];
    for (payee, offered, answer) in [
        (
            "LUIGIS PIZZERIA 22",
            [
                "HOME_IMPROVEMENT_FURNITURE",
                "FOOD_AND_DRINK_RESTAURANT",
                "GENERAL_MERCHANDISE_SUPERSTORES",
            ],
            "FOOD_AND_DRINK_RESTAURANT",
        ),
        (
            "HAPPY TAILS PET SHOP",
            [
                "FOOD_AND_DRINK_COFFEE",
                "GENERAL_MERCHANDISE_PET_SUPPLIES",
                "TRANSPORTATION_GAS",
            ],
            "GENERAL_MERCHANDISE_PET_SUPPLIES",
        ),
    ] {
        messages.push(ChatMessage::user(question(
            payee,
            "$24.00 paid out",
            &offered.map(String::from),
        )));
        messages.push(ChatMessage::assistant(
            json!({ "category": answer }).to_string(),
        ));
    }
    messages.push(ChatMessage::user(question(
        description,
        &format!("${:.2} {direction}", amount.abs()),
        &options,
    )));
    let answer = super::one_field(
        kernel,
        messages,
        48,
        "category",
        json!({"type": "string", "enum": options}),
    )
    .await?;
    let chosen = answer.as_str().unwrap_or_default();
    if !options.iter().any(|o| o == chosen) {
        return Err(KernelError::BadResponse(format!(
            "`{chosen}` is not one of the categories offered"
        )));
    }
    Ok(Filed {
        category: chosen.into(),
        by: CategorySource::Model,
        // A small model choosing among near neighbours: a suggestion to glance at, not a fact.
        confidence: 0.5,
        because: format!(
            "the model chose {} among {} close categories",
            label(chosen),
            options.len()
        ),
    })
}

fn question(description: &str, money: &str, options: &[String]) -> String {
    let listed: Vec<String> = options
        .iter()
        .filter_map(|id| category(id))
        .map(|c| format!("- {}: {} ({})", c.id, c.label, c.about))
        .collect();
    format!(
        "Transaction: \"{description}\", {money}.\nCategories:\n{}\nWhich category is it?",
        listed.join("\n")
    )
}
