//! The answer as a person reads it: what the model wrote, checked for sense before it is kept.
//!
//! A 135M-parameter model sometimes starts by repeating the question, loops on one sentence,
//! stops mid-sentence, or states figures nobody gave it ("in 2017 fees cost $53 billion"). Those
//! are cut here: the echo, the repeats, the unfinished last sentence, and every sentence with a
//! number that is not in what the model was shown (the person's figures, the sources, the
//! chat), because numbers come from the engine and the person's data, never from the model's
//! memory. An answer with nothing left that the question did not already say is not shown as
//! the model's words: the coach quotes its best source instead, marked as such.

/// Who wrote the answer a person is shown.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WrittenBy {
    /// The model's own words, checked (and cut where they repeated themselves).
    Model,
    /// The model's words did not pass; the answer quotes the most relevant source instead.
    Fallback,
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Sentences with their ending, as written.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        // `1.5` and `e.g.` go on; `?}` ends, the stray brace then trimmed off the next one.
        let ends =
            matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|n| !n.is_alphanumeric());
        if ends || c == '\n' {
            out.push(std::mem::take(&mut current));
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Most sentences kept: the prompt asks for two to four.
const MAX_SENTENCES: usize = 4;

/// The numbers in `text`, as digits only (`$1,200.50` → `120050`, `4%` → `4`), so a figure
/// matches however it was punctuated.
pub fn numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .map(|t| t.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The model's answer made fit to show, or `None` when nothing worth showing is left. `shown`
/// is everything the model was given; a number not in it was made up.
pub fn clean(answer: &str, question: &str, shown: &str) -> Option<String> {
    let question_words = words(question);
    let known = numbers(shown);
    let mut kept: Vec<String> = Vec::new();
    let mut seen: Vec<Vec<String>> = Vec::new();
    let all = sentences(answer);
    let finished = |s: &str| s.ends_with(['.', '!', '?', '"', '”', ')']);
    // A lead-in ("For example:") introduces what was cut or what follows; alone it says nothing.
    let lead_in = |s: &str| s.ends_with(':');
    for (i, sentence) in all.iter().enumerate() {
        if kept.len() == MAX_SENTENCES || (i + 1 == all.len() && i > 0 && !finished(sentence)) {
            break;
        }
        if lead_in(sentence) || numbers(sentence).iter().any(|n| !known.contains(n)) {
            continue;
        }
        let sentence = sentence
            .trim_start_matches(|c: char| !c.is_alphanumeric() && c != '$' && c != '(')
            .to_string();
        let said = words(&sentence);
        // The question read back, a sentence said before, or stray symbols: not an answer.
        if said.is_empty() || said == question_words || seen.contains(&said) {
            continue;
        }
        seen.push(said);
        kept.push(sentence);
    }
    let text = kept.join(" ");
    let new_words = words(&text)
        .into_iter()
        .filter(|w| w.len() > 3 && !question_words.contains(w))
        .count();
    (words(&text).len() >= 4 && new_words >= 2).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sound_answer_is_kept_as_written() {
        let answer =
            "Fees compound against you. A 1% fee can cost a quarter of your savings over 30 years.";
        let shown = "A 1% fee over 30 years costs about a quarter.";
        assert_eq!(
            clean(answer, "What do fees cost?", shown).as_deref(),
            Some(answer)
        );
    }

    #[test]
    fn a_sentence_with_a_figure_nobody_gave_the_model_is_cut() {
        let answer = "Fees compound against you. For example: In 2017 fees cost $53 billion. You hold $250,000.";
        assert_eq!(
            clean(answer, "What do fees cost?", "Net worth $250,000.").as_deref(),
            Some("Fees compound against you. You hold $250,000.")
        );
    }

    #[test]
    fn an_unfinished_last_sentence_and_a_fifth_are_cut() {
        let answer = "One is here. Two is here. Three is here. Four is here. Five is here. Six";
        assert_eq!(
            clean(answer, "Count?", "").as_deref(),
            Some("One is here. Two is here. Three is here. Four is here.")
        );
        assert_eq!(
            clean("Saving early matters a lot. The total cost to", "Why?", "").as_deref(),
            Some("Saving early matters a lot.")
        );
    }

    #[test]
    fn the_question_read_back_and_repeated_sentences_are_cut() {
        let answer = "When can I retire?} It depends on your savings. It depends on your savings. It depends on your savings. Saving more brings it closer.";
        assert_eq!(
            clean(answer, "When can I retire?", "").as_deref(),
            Some("It depends on your savings. Saving more brings it closer.")
        );
    }

    #[test]
    fn an_answer_that_only_restates_the_question_is_refused() {
        let question = "How much do index fund fees cost me over the years?";
        assert_eq!(
            clean("A nite fund fees cost me over the years.", question, ""),
            None
        );
        assert_eq!(clean("}}", "Why?", ""), None);
        assert_eq!(clean("", "Why?", ""), None);
    }
}
