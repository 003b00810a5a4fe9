//! Questions answered for the category they mean, even in words no category uses.
//!
//! The rules in `question.rs` read the measure and the periods, and a category named as the
//! categories name themselves. A question naming what was bought in other words ("eating out",
//! "the vet", "booze") would otherwise be answered for all spending, which is a confident
//! answer to another question. So when the rules find no category, the local model names what
//! the money went on, copying the words out of the question under a schema (a short string; a
//! phrase that is not in the question is discarded), and without a model, or when it copies
//! nothing, the words the rules left ([`question::subject_words`]) stand in. MiniLM then finds
//! the category whose description or known merchant is nearest that phrase. The model never
//! chooses the category, which it was measured to do badly (BENCHMARKS.md, "Expenses"); it only
//! points at words, and the answer says how they were read. A phrase near no category is told
//! so instead of being answered for the wrong thing.

use chrono::NaiveDate;
use miyagi_domain::expenses::is_spending;
use std::sync::LazyLock;

use miyagi_kernel::{chat::ResponseFormat, function::PromptFunction, Kernel, KernelError};
use serde_json::json;

use super::catalogue::Catalogue;
use super::categorise::{dot, label, ExampleKind};
use super::question::{self, Answer};
use super::{Expenses, ExpensesError};

/// How near a phrase must be to a category's description to mean it. Measured with MiniLM on
/// single words and short phrases: words that mean a category score 0.45–0.76 against its
/// description (vet, booze, petrol, charity), strings that mean nothing 0.19–0.28.
const MEANT_BY_DESCRIPTION: f32 = 0.35;
/// Near a known merchant's name only a name counts: short brand names sit within 0.35–0.50 of
/// any string, nonsense included, so only a close match (the name itself, ~1.0) is taken.
const MEANT_BY_MERCHANT: f32 = 0.7;

impl Expenses {
    /// Answers `question`, asked by `owner` on `today`, from their transactions.
    pub async fn ask(
        &self,
        owner: &str,
        question: &str,
        today: NaiveDate,
    ) -> Result<Answer, ExpensesError> {
        let mut query = match question::parse(question, today) {
            Ok(query) => query,
            Err(why) => return Ok(Answer::not_understood(why)),
        };
        let mut read_as = None;
        if query.category.is_none() && query.measure != "topCategories" {
            if let Some(phrase) = self.subject(owner, question).await {
                let Some(id) = self.category_meant(&phrase).await? else {
                    return Ok(Answer::not_understood(format!(
                        "I could not tell which kind of spending “{phrase}” is. Ask about a category by its name, such as restaurants, groceries or travel."
                    )));
                };
                let named = label(&id).to_lowercase();
                if !phrase.eq_ignore_ascii_case(&named) {
                    read_as = Some(format!("Reading “{phrase}” as {named}: "));
                }
                query.category = Some(id);
            }
        }
        let (from, to) = question::span(&query);
        let transactions = self
            .store
            .transactions(owner, from, to, None, i64::MAX, 0)
            .await?;
        let mut answer = question::answer(query, &transactions);
        if let Some(read_as) = read_as {
            answer.sentence.insert_str(0, &read_as);
        }
        Ok(answer)
    }

    /// The words of the question naming what was bought: the model's, else what the rules left.
    async fn subject(&self, owner: &str, question: &str) -> Option<String> {
        let copied = match &self.kernel {
            Some(kernel) => copy_subject(&kernel.for_user(owner), question).await,
            None => None,
        };
        copied.or_else(|| {
            let words = question::subject_words(question);
            (!words.is_empty()).then(|| words.join(" "))
        })
    }

    /// The spending category nearest `phrase` in meaning, if one is near enough.
    async fn category_meant(&self, phrase: &str) -> Result<Option<String>, ExpensesError> {
        let catalogue = self
            .catalogue
            .get_or_try_init(|| Catalogue::embed(self.embedder.as_ref()))
            .await?;
        let vector = self.embedder.embed(&[phrase.to_string()]).await?.remove(0);
        Ok(catalogue
            .examples
            .iter()
            .filter(|e| is_spending(&e.category))
            .filter_map(|e| {
                let similarity = dot(&vector, &e.vector);
                let near = match e.kind {
                    ExampleKind::Category => MEANT_BY_DESCRIPTION,
                    ExampleKind::Merchant => MEANT_BY_MERCHANT,
                    ExampleKind::Person => return None,
                };
                (similarity >= near).then_some((similarity, &e.category))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id)| id.clone()))
    }
}

/// The model's part, kept as a prompt directory so `miyagi eval` runs the very prompt the
/// service sends (`evals/expenses`).
static SPENT_ON: LazyLock<PromptFunction> = LazyLock::new(|| {
    PromptFunction::from_sk(
        "expenses",
        "SpentOn",
        include_str!("../../../../../prompts/expenses/SpentOn/skprompt.txt"),
        Some(include_str!(
            "../../../../../prompts/expenses/SpentOn/config.json"
        )),
    )
    .expect("the built-in prompt parses (tested)")
});

/// Asks the model which words of `question` name what the money went on. The question is the
/// person's own text; whatever the model writes, only words found in the question are kept.
async fn copy_subject(kernel: &Kernel, question: &str) -> Option<String> {
    let args = [("question".to_string(), json!(question))]
        .into_iter()
        .collect();
    let answer = async {
        let mut request = SPENT_ON.request(kernel, args).await?;
        let Some(ResponseFormat::JsonSchema { name, schema, .. }) =
            request.settings.response_format.take()
        else {
            return Err(KernelError::Config(
                "prompts/expenses/SpentOn: the prompt must give a JSON schema response_format"
                    .into(),
            ));
        };
        let mut answer = kernel.structured_value(request, &name, schema, 2).await?;
        Ok(answer["spentOn"].take())
    }
    .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(%error, "the model could not read a question; its own words stand in");
            return None;
        }
    };
    let copied = answer.as_str().unwrap_or_default().trim();
    let phrase = question::subject_words(copied).join(" ");
    let asked = question.to_lowercase();
    (!phrase.is_empty() && phrase.split(' ').all(|w| asked.contains(w))).then_some(phrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_spent_on_prompt_shows_its_worked_examples_then_the_question() {
        let args = [("question".to_string(), json!("What did the vet cost?"))]
            .into_iter()
            .collect();
        let request = SPENT_ON
            .request(&Kernel::builder().build(), args)
            .await
            .unwrap();
        assert_eq!(request.messages.len(), 8);
        assert_eq!(
            request.messages[2].content,
            r#"{"spentOn":"takeaway curry"}"#
        );
        assert_eq!(request.messages[7].content, "What did the vet cost?");
    }
}
