//! Model prose made fit to show: what a small model wrote, checked for sense before it is kept.
//!
//! A 135M-parameter model sometimes starts by repeating the question, loops on one sentence,
//! stops mid-sentence, or states figures nobody gave it ("in 2017 fees cost $53 billion"). Those
//! are cut here: the echo, the repeats, the unfinished last sentence, and every sentence with a
//! number that is not in what the model was shown, because numbers come from the engine and the
//! person's data, never from the model's memory. Pure, so every writer (the coach's answers,
//! document summaries, reports) holds its model to the same rules.

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

/// How much of what a model wrote comes from the `source` it summarised: the share of its words
/// of four letters or more that the source uses, and how many distinct such words there are. A
/// small model asked to summarise sometimes writes about the document ("this summary is a
/// reference to the notes file") instead of from it; such text shares few words with the source.
pub fn grounding(written: &str, source: &str) -> (f64, usize) {
    let known: std::collections::HashSet<String> = words(source).into_iter().collect();
    let mut content: Vec<String> = words(written)
        .into_iter()
        .filter(|w| w.len() >= 4)
        .collect();
    if content.is_empty() {
        return (0.0, 0);
    }
    let share = content.iter().filter(|w| known.contains(*w)).count() as f64 / content.len() as f64;
    content.sort();
    content.dedup();
    let distinct = content.iter().filter(|w| known.contains(*w)).count();
    (share, distinct)
}

/// The numbers in `text`, as digits only (`$1,200.50` → `120050`, `4%` → `4`), so a figure
/// matches however it was punctuated.
pub fn numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .map(|t| t.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The first number a model wrote that is not in what it was `shown`.
pub fn unsupported_number(written: &str, shown: &str) -> Option<String> {
    let known = numbers(shown);
    numbers(written).into_iter().find(|n| !known.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_matches_however_it_is_punctuated_and_a_new_one_is_named() {
        let shown = "Saving $15,000 a year leaves $1.2 million.";
        assert_eq!(
            unsupported_number("You save 15000 and keep 1.2 million.", shown),
            None
        );
        assert_eq!(
            unsupported_number("By 2040 you will have $1.2 million.", shown).as_deref(),
            Some("2040")
        );
    }

    #[test]
    fn a_summary_about_the_file_rather_than_from_it_is_poorly_grounded() {
        let source = "Microsoft sells cloud computing through Azure, which grew faster than any other part of the business. Its Office subscriptions bring steady income.";
        let (share, _) = grounding(
            "This summary is a reference to the Microsoft notes file.",
            source,
        );
        assert!(share < 0.5, "{share}");
        let (share, distinct) = grounding(
            "Azure cloud computing grew fastest, and Office subscriptions bring steady income.",
            source,
        );
        assert!(share > 0.8 && distinct >= 6, "{share} {distinct}");
    }

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
