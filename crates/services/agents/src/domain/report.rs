//! The retirement report: the model writes the opening, in plain words, from the comparison the
//! arithmetic made; the comparison itself follows, so every number a person reads was computed.
//!
//! A small model's words are checked before they are shown: an opening that states a number the
//! comparison does not (an invented figure), that says nothing, or that never took the shape
//! asked for, is dropped, and the report is the comparison alone, marked as such.

use miyagi_domain::prose::unsupported_number;
use miyagi_kernel::{ChatMessage, ChatRequest, ExecutionSettings, Kernel, KernelError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::retirement::Projections;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub text: String,
    /// `model` when the opening is the model's, `template` when the report is the comparison
    /// alone.
    pub author: String,
    /// Why the model's opening was not used, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Opening {
    /// Two or three sentences. The bounds make a small model write them: left free, it closes
    /// the string after a word.
    #[schemars(length(min = 80, max = 600))]
    opening: String,
}

pub async fn write(
    kernel: Option<&Kernel>,
    projections: &Projections,
) -> Result<Report, KernelError> {
    let Some(kernel) = kernel else {
        return Ok(template(projections, "no model is configured"));
    };
    let request = ChatRequest {
        messages: vec![
            ChatMessage::system(
                "You are a calm, plain-spoken financial coach. Write two or three short sentences that open a person's retirement report: what the simulations say about their plan, and which of the two changes helps more. Use only the facts given. Do not repeat the dollar amounts and add no numbers of your own.",
            ),
            ChatMessage::user(format!("Facts: {}", projections.summary)),
        ],
        settings: ExecutionSettings {
            // Room for the longest opening the schema allows (600 characters) and its JSON.
            max_tokens: Some(260),
            temperature: Some(0.2),
            ..ExecutionSettings::default()
        },
        ..ChatRequest::default()
    };
    let opening: Opening = match kernel.structured(request, 2).await {
        Ok(opening) => opening,
        // Words that never took the shape asked for are words not to show; the comparison is
        // computed and stands on its own. An outage is the step's to retry.
        Err(KernelError::Schema { errors, .. }) => {
            return Ok(template(
                projections,
                &format!("the model's opening never took its shape: {errors}"),
            ))
        }
        Err(e) => return Err(e),
    };
    Ok(match fault(&opening.opening, &projections.summary) {
        None => Report {
            text: format!("{}\n\n{}", opening.opening.trim(), projections.summary),
            author: "model".into(),
            dropped: None,
        },
        Some(why) => template(projections, &why),
    })
}

fn template(projections: &Projections, why: &str) -> Report {
    Report {
        text: projections.summary.clone(),
        author: "template".into(),
        dropped: Some(why.into()),
    }
}

/// Why an opening is not fit to show: too short to say anything, or a number the facts do not
/// hold.
fn fault(opening: &str, facts: &str) -> Option<String> {
    let words = opening.split_whitespace().count();
    if words < 8 {
        return Some(format!(
            "the model's opening says too little ({words} words)"
        ));
    }
    unsupported_number(opening, facts)
        .map(|n| format!("the model's opening states {n}, which the simulations do not"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: &str = "Retiring at 65 after saving $15,000 a year, with 70% in stocks, half the simulated markets leave you more than $1.2 million.";

    #[test]
    fn an_opening_in_plain_words_is_kept() {
        assert_eq!(
            fault(
                "Your plan is on a sound footing, and working longer helps more than saving more.",
                FACTS
            ),
            None
        );
    }

    #[test]
    fn an_opening_that_repeats_the_facts_numbers_is_kept() {
        assert_eq!(
            fault(
                "Retiring at 65 looks within reach, and two more years of work help most.",
                FACTS
            ),
            None
        );
    }

    #[test]
    fn an_invented_figure_drops_the_opening() {
        let why = fault(
            "You will have $3.4 million at retirement, which is plenty for you.",
            FACTS,
        );
        assert_eq!(
            why.as_deref(),
            Some("the model's opening states 34, which the simulations do not")
        );
    }

    #[test]
    fn an_opening_that_says_nothing_is_dropped() {
        assert!(fault("Good plan.", FACTS).unwrap().contains("too little"));
    }
}
