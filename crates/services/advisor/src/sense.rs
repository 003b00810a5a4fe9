//! Written advice checked for sense, after its schema. A schema can make a model write two
//! sentences; it cannot make them say something. What is never advice is refused here: a
//! narrative under two sentences or saying one twice, text that is mostly the prompt copied
//! back, a source number that was not given, and a figure that is none of the engine's. The
//! local model's schema already rules out figures and single sentences; a remote model's answer
//! is only validated, so these checks are its guard. [`crate::writing`] retries once with the
//! reason, then puts the engine's own words where the model's still fail.
//!
//! Pure text rules, no model: cheap enough to run on every answer, and the same rules grade the
//! eval set, so what the gate measures is what a person is protected from.

use std::collections::{HashMap, HashSet};

/// Words in a row that, found in the prompt, count as copied.
const SHINGLE: usize = 4;
/// Share of a text's words inside copied runs above which the text repeats the prompt.
const COPIED_SHARE: f64 = 0.6;
/// Sentences a narrative needs: one is a slogan, not advice.
pub const MIN_SENTENCES: usize = 2;

/// What the model was shown, which its words are checked against.
pub struct Grounds {
    /// Runs of [`SHINGLE`] words in the prompt (the instructions, the household, the engine's
    /// facts; not the sources, which the model may quote).
    shingles: HashSet<Vec<String>>,
    /// Every figure the prompt states.
    figures: Vec<Figure>,
    /// How many sources were given, numbered from 1.
    sources: usize,
}

impl Grounds {
    /// `prompt`: the instructions and facts the model was given; `sources`: how many passages.
    pub fn new(prompt: &str, sources: usize) -> Self {
        let words = words(prompt);
        Self {
            shingles: words.windows(SHINGLE).map(<[String]>::to_vec).collect(),
            figures: figures(prompt),
            sources,
        }
    }

    /// Why the narrative is not advice, if it is not.
    pub fn narrative_problem(&self, narrative: &str) -> Option<String> {
        let sentences = sentences(narrative);
        if sentences < MIN_SENTENCES {
            return Some(format!(
                "the narrative has {sentences} full sentence(s); write at least {MIN_SENTENCES}"
            ));
        }
        if let Some(repeated) = repeated_sentence(narrative) {
            return Some(format!("the narrative says «{repeated}» more than once"));
        }
        if let Some(phrase) = looping_phrase(narrative) {
            return Some(format!("the narrative says «{phrase}» over and over"));
        }
        if let Some(run) = fragments(narrative) {
            return Some(format!(
                "the narrative falls into fragments («{run}»); write whole words"
            ));
        }
        if let Some(word) = words(narrative)
            .into_iter()
            .find(|w| UNKIND.contains(&w.as_str()))
        {
            return Some(format!(
                "the narrative says «{word}», which is unkind; leave it out"
            ));
        }
        if self.copied_share(narrative) > COPIED_SHARE {
            return Some("the narrative repeats the prompt; explain in your own words".into());
        }
        if let Some(n) = source_numbers(narrative)
            .into_iter()
            .find(|n| *n == 0 || *n > self.sources)
        {
            return Some(format!(
                "the narrative cites source [{n}], which was not given"
            ));
        }
        figures(narrative)
            .into_iter()
            .find(|figure| !self.allows(*figure))
            .map(|figure| {
                format!(
                    "the narrative states {}, which is not one of the engine's figures",
                    figure.written()
                )
            })
    }

    fn copied_share(&self, text: &str) -> f64 {
        let words = words(text);
        if words.len() < SHINGLE {
            return 0.0;
        }
        let mut copied = vec![false; words.len()];
        for (start, window) in words.windows(SHINGLE).enumerate() {
            if self.shingles.contains(window) {
                copied[start..start + SHINGLE].fill(true);
            }
        }
        copied.iter().filter(|c| **c).count() as f64 / words.len() as f64
    }

    fn allows(&self, figure: Figure) -> bool {
        // Small whole numbers are prose ("two steps", "1 in 10"), not figures.
        if let Figure::Plain(v) = figure {
            if v.fract() == 0.0 && v.abs() < 10.0 {
                return true;
            }
        }
        self.figures.iter().any(|known| figure.agrees(*known))
    }
}

/// A number as prose writes it, by what it measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Figure {
    /// `42%`, `42 percent`: the number of percent.
    Percent(f64),
    /// `$1.2M`, `$350k`, `$900`, `$1.2 million`: dollars.
    Money(f64),
    /// `62`, `0.64`, `1,250`.
    Plain(f64),
}

impl Figure {
    fn value(self) -> f64 {
        match self {
            Self::Percent(v) | Self::Money(v) | Self::Plain(v) => v,
        }
    }

    /// Whether `self`, as written, is `known` as the prompt wrote it, allowing for rounding.
    fn agrees(self, known: Figure) -> bool {
        let (v, k) = (self.value(), known.value());
        match (self, known) {
            (Self::Percent(_), Self::Percent(_)) => (v - k).abs() <= 1.0,
            // `$1.2M` for $1,234,567: money is rounded to two or three figures.
            (Self::Money(_), Self::Money(_)) => (v - k).abs() <= 0.05 * k.abs() + 1.0,
            (Self::Plain(_), _) => (v - k).abs() <= 0.01 * k.abs() + 0.005,
            _ => false,
        }
    }

    fn written(self) -> String {
        match self {
            Self::Percent(v) => format!("{v}%"),
            Self::Money(v) => format!("${v}"),
            Self::Plain(v) => format!("{v}"),
        }
    }
}

/// Every figure in `text`. A number right after `[` is a source number, not a figure.
pub fn figures(text: &str) -> Vec<Figure> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let dollar = chars[i] == '$' && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        let starts = chars[i].is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '['));
        if !dollar && !starts {
            i += 1;
            continue;
        }
        let mut j = if dollar { i + 1 } else { i };
        let digits_from = j;
        while j < chars.len()
            && (chars[j].is_ascii_digit()
                || (matches!(chars[j], ',' | '.')
                    && chars.get(j + 1).is_some_and(char::is_ascii_digit)))
        {
            j += 1;
        }
        let number: String = chars[digits_from..j]
            .iter()
            .filter(|c| **c != ',')
            .collect();
        let Ok(mut value) = number.parse::<f64>() else {
            i = j;
            continue;
        };
        let rest: String = chars[j..chars.len().min(j + 10)].iter().collect();
        let rest = rest.to_lowercase();
        let scale = [
            ("k", 1e3),
            ("m", 1e6),
            ("b", 1e9),
            (" thousand", 1e3),
            (" million", 1e6),
            (" billion", 1e9),
        ]
        .into_iter()
        .find(|(suffix, _)| {
            rest.starts_with(suffix)
                && !rest[suffix.len()..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphabetic)
        });
        if let Some((suffix, factor)) = scale {
            value *= factor;
            j += suffix.chars().count();
        }
        let figure = if rest.starts_with('%') || rest.starts_with(" percent") {
            Figure::Percent(value)
        } else if dollar || scale.is_some_and(|(_, factor)| factor >= 1e6) {
            Figure::Money(value)
        } else {
            Figure::Plain(value)
        };
        found.push(figure);
        i = j.max(i + 1);
    }
    found
}

/// `text` up to the end of its last whole sentence: a model stopped by its length limit leaves
/// a fragment behind, which no reader should see. Text without a sentence end stays as it is.
pub fn whole_sentences(text: &str) -> &str {
    let text = text.trim();
    let mut ends = text.char_indices().filter(|(i, c)| {
        matches!(c, '.' | '!' | '?')
            && text[i + c.len_utf8()..]
                .chars()
                .next()
                .is_none_or(char::is_whitespace)
    });
    match ends.next_back() {
        Some((i, c)) => &text[..i + c.len_utf8()],
        None => text,
    }
}

/// Words a coach never uses of the person they advise. SmolLM2 wrote that buying stocks "can
/// also make you feel like a loser" in 6 answers of 30.
const UNKIND: [&str; 6] = ["loser", "losers", "stupid", "idiot", "dumb", "foolish"];

/// Short words in a row, [`FRAGMENT_UNKNOWN`] of them not everyday words, that are fragments, not
/// prose: SmolLM2 sometimes trails off into "ith, ia, ire, il, ils, ies, is, ii" or "xt ia iz i
/// z ii iv iii" (one and two of the ten eval households on 2026-12-05, before and after the
/// embeddings changed which passages the prompt holds).
const FRAGMENT_LETTERS: usize = 3;
const FRAGMENT_RUN: usize = 5;
const FRAGMENT_UNKNOWN: usize = 3;

/// Everyday words of up to [`FRAGMENT_LETTERS`] letters, which prose strings together freely
/// ("so if it is not for you").
const SHORT_WORDS: [&str; 104] = [
    "a", "i", "am", "an", "as", "at", "be", "by", "do", "go", "he", "if", "in", "is", "it", "me",
    "my", "no", "of", "oh", "ok", "on", "or", "so", "to", "up", "us", "we", "ago", "all", "and",
    "any", "are", "ask", "bad", "big", "but", "buy", "can", "day", "did", "due", "end", "etc",
    "far", "fee", "few", "for", "fun", "get", "got", "had", "has", "her", "him", "his", "how",
    "its", "job", "key", "let", "lot", "low", "may", "net", "new", "nor", "not", "now", "off",
    "old", "one", "our", "out", "own", "pay", "per", "put", "raw", "say", "see", "set", "she",
    "six", "tax", "ten", "the", "too", "top", "try", "two", "use", "via", "was", "way", "who",
    "why", "yes", "yet", "you", "age", "law", "run", "won",
];

/// The first run of [`FRAGMENT_RUN`] short words with [`FRAGMENT_UNKNOWN`] or more that are not
/// everyday words, if any. Figures ("80%", "$2.3M") are not words here and break a run.
fn fragments(text: &str) -> Option<String> {
    let words = words(text);
    let short = |w: &String| w.len() <= FRAGMENT_LETTERS && w.chars().all(char::is_alphabetic);
    words
        .windows(FRAGMENT_RUN)
        .find(|run| {
            run.iter().all(short)
                && run
                    .iter()
                    .filter(|w| !SHORT_WORDS.contains(&w.as_str()))
                    .count()
                    >= FRAGMENT_UNKNOWN
        })
        .map(|run| run.join(" "))
}

/// Words in a row that, said [`LOOP_TIMES`] times, are a loop.
const LOOP_WORDS: usize = 3;
const LOOP_TIMES: usize = 3;

/// A run of words the text says again and again, if any: a small model caught in a loop inside
/// one sentence ("The median is the median is the median is"), which [`repeated_sentence`],
/// comparing whole sentences, lets through.
fn looping_phrase(text: &str) -> Option<String> {
    let words = words(text);
    let mut said: HashMap<&[String], usize> = HashMap::new();
    words.windows(LOOP_WORDS).find_map(|phrase| {
        let times = said.entry(phrase).or_default();
        *times += 1;
        (*times == LOOP_TIMES).then(|| phrase.join(" "))
    })
}

/// Share of a sentence's runs of [`LOOP_WORDS`] words found in one earlier sentence above which
/// it says that sentence again.
const SAID_AGAIN_SHARE: f64 = 0.5;

/// A sentence the text says twice, or again with a few words changed, put in or left out, if
/// any: a small model caught in a loop ("The first case shows how it can be uncomfortable. The
/// second case shows how it can be uncomfortable."; "You can choose to invest in a diversified
/// portfolio. You can also invest in a diversified portfolio.").
fn repeated_sentence(text: &str) -> Option<String> {
    let said: Vec<Vec<String>> = text
        .split_terminator(['.', '!', '?'])
        .map(words)
        .filter(|words| words.len() >= LOOP_WORDS)
        .collect();
    said.iter().enumerate().find_map(|(i, later)| {
        let runs: Vec<&[String]> = later.windows(LOOP_WORDS).collect();
        said[..i]
            .iter()
            .any(|earlier| {
                let before: HashSet<&[String]> = earlier.windows(LOOP_WORDS).collect();
                let again = runs.iter().filter(|run| before.contains(*run)).count();
                again as f64 / runs.len() as f64 > SAID_AGAIN_SHARE
            })
            .then(|| later.join(" "))
    })
}

/// Source numbers the text cites as `[n]`.
fn source_numbers(text: &str) -> Vec<usize> {
    text.split('[')
        .skip(1)
        .filter_map(|after| after.split_once(']'))
        .filter_map(|(inside, _)| inside.trim().parse().ok())
        .collect()
}

/// Full sentences: ended by `.`, `!` or `?` (or the end of the text), each with at least three
/// words of letters.
pub fn sentences(text: &str) -> usize {
    let mut count = 0;
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        let ends =
            matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|next| next.is_whitespace());
        if ends || chars.peek().is_none() {
            let worded = current
                .split_whitespace()
                .filter(|w| w.chars().any(char::is_alphabetic))
                .count();
            if worded >= 3 {
                count += 1;
            }
            current.clear();
        }
    }
    count
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '%' || c == '$' || c == '.'))
        .map(|w| w.trim_matches('.').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str = "You are a financial coach writing in the voice of Warren Buffett. \
        Stocks: now 70%, target 55% -> Sell. Bonds: now 5%, target 30% -> Buy. \
        45 years old, retiring at 62, household income $150k a year. Risk score 0.64. \
        Projected wealth at retirement in today's money: median $1.2M, 1 in 10 chance below $640k.";

    /// Why `narrative` is refused; it must be.
    fn refusal(narrative: &str) -> String {
        grounds()
            .narrative_problem(narrative)
            .expect("the narrative is refused")
    }

    fn grounds() -> Grounds {
        Grounds::new(PROMPT, 2)
    }

    #[test]
    fn a_narrative_of_one_line_is_not_advice() {
        let problem = refusal("The Intelligent Investor");
        assert!(problem.contains("1 full sentence"), "{problem}");
        assert_eq!(
            grounds().narrative_problem(
                "Your stocks have run ahead of your plan. Moving some into bonds steadies the ride."
            ),
            None
        );
    }

    #[test]
    fn text_mostly_copied_from_the_prompt_is_refused() {
        let problem =
            refusal("Stocks: now 70%, target 55% -> Sell. Bonds: now 5%, target 30% -> Buy.");
        assert!(problem.contains("repeats the prompt"), "{problem}");
    }

    #[test]
    fn a_source_number_that_was_not_given_is_refused() {
        let problem =
            refusal("Diversify across many holdings [3]. It lowers the risk of any one stock.");
        assert!(problem.contains("[3]"), "{problem}");
        assert_eq!(
            grounds().narrative_problem(
                "Diversify across many holdings [2]. It lowers the risk of one stock."
            ),
            None
        );
    }

    #[test]
    fn figures_must_be_the_engines_allowing_for_rounding() {
        let g = grounds();
        let ok = "Bringing stocks from 70 percent to 55% leaves a median of $1.2 million at 62. Keep going as you are.";
        assert_eq!(g.narrative_problem(ok), None);
        let invented = g
            .narrative_problem("Put 45% in bonds now. That is what a careful investor would do.")
            .unwrap();
        assert!(invented.contains("45%"), "{invented}");
        let money = g
            .narrative_problem("You will retire with $3M in the bank. Enjoy the ride ahead of you.")
            .unwrap();
        assert!(money.contains("$3000000"), "{money}");
    }

    #[test]
    fn figures_are_read_as_prose_writes_them() {
        assert_eq!(
            figures("$1.2M, $350k, 42%, 1,250 shares, 30 percent, $2 million, 0.64, [1]"),
            [
                Figure::Money(1.2e6),
                Figure::Money(350e3),
                Figure::Percent(42.0),
                Figure::Plain(1250.0),
                Figure::Percent(30.0),
                Figure::Money(2e6),
                Figure::Plain(0.64),
            ]
        );
    }

    #[test]
    fn a_narrative_caught_in_a_loop_is_refused() {
        let problem = refusal("The fund grew this year. The fund grew this year. It will again.");
        assert!(problem.contains("more than once"), "{problem}");
    }

    #[test]
    fn a_sentence_said_again_with_words_put_in_is_refused() {
        // Written by SmolLM2 for an eval household.
        let problem = refusal("You can choose to invest in a diversified portfolio that includes a mix of stocks and bonds. You can also invest in a diversified portfolio that includes a mix of stocks and bonds.");
        assert!(problem.contains("more than once"), "{problem}");
    }

    #[test]
    fn a_narrative_that_calls_the_person_names_is_refused() {
        // SmolLM2's own words for an eval household.
        let problem = refusal("Buying stocks gives your savings more room to grow, but it can also make you feel like a loser if the market is down. Buying bonds has its own risks.");
        assert!(problem.contains("loser"), "{problem}");
    }

    #[test]
    fn a_narrative_looping_inside_a_sentence_is_refused() {
        // SmolLM2's own words, when its sentences were held to letters only.
        let problem = refusal(
            "The median is the median is the median is the median is the a. \
                 The goal is to restore the stock fund to its base.",
        );
        assert!(problem.contains("over and over"), "{problem}");
    }

    #[test]
    fn a_narrative_that_says_a_sentence_again_with_a_word_changed_is_refused() {
        // Written by SmolLM2 for an eval household.
        let problem = refusal("The second case shows why rebalancing can be uncomfortable. It is an example of the shape, not a recommendation. The first case shows how it can be uncomfortable. The second case shows how it can be uncomfortable.");
        assert!(problem.contains("more than once"), "{problem}");
    }

    #[test]
    fn a_narrative_that_falls_into_fragments_is_refused() {
        // SmolLM2's own endings for two eval households.
        for ending in [
            "The answer lies in how much of each type, or more specifically, ith, ia, ire, il, ils, ies, is, ii, ili, ile, i.",
            "The ipsc xt ia iz i z ii iv iii ix v vi x xi y zz zy ze w xyz a b d f g h j k l.",
        ] {
            let problem = refusal(&format!(
                    "Buying stocks and selling bonds gives your savings more room to grow. {ending}"
                ));
            assert!(problem.contains("fragments"), "{problem}");
        }
    }

    #[test]
    fn everyday_short_words_in_a_row_pass() {
        assert!(grounds()
            .narrative_problem("Buying stocks gives your savings room to grow. So if it is not for you, it may be a way to go.")
            .is_none());
    }

    #[test]
    fn sentences_that_share_a_shape_but_say_different_things_pass() {
        assert!(grounds()
            .narrative_problem("Your stocks carry the growth you need for a long horizon. Your bonds soften the falls that come on the way there.")
            .is_none());
    }

    #[test]
    fn a_fragment_cut_off_by_the_length_limit_is_dropped() {
        assert_eq!(
            whole_sentences("Hold your course. It worked for $1.2M savers. The stock fund was £"),
            "Hold your course. It worked for $1.2M savers."
        );
        assert_eq!(whole_sentences("No end at all"), "No end at all");
    }

    #[test]
    fn sentences_need_three_words_and_an_end() {
        assert_eq!(sentences("Hold steady. Buy bonds now. Okay."), 1);
        assert_eq!(
            sentences("Stay the course with $1.2M at stake. Rebalance once a year"),
            2
        );
        assert_eq!(
            sentences("Stay the course with $1.2M at stake. Rebalance yearly"),
            1
        );
    }
}
