//! The categoriser's stages, first that answers wins; each answer says which stage gave it, how
//! sure it is and why, so a person can see why a coffee is filed under Coffee and correct it.
//!
//! 1. the person's own rules;
//! 2. rules learned from their corrections;
//! 3. the bank's merchant category code;
//! 4. merchants known by name, then a word of the payee's that only one category's description
//!    names ("GOLDEN DRAGON RESTAURANT", "MAIN STREET BARBER SHOP");
//! 5. the nearest payees already filed, by meaning (MiniLM embeddings of the person's corrected
//!    payees, the known merchants and the categories' descriptions);
//! 6. the model, choosing among the categories nearest in meaning.
//!
//! Stages 1–4 are exact and cheap; 5 needs the embedder; 6 the model, and runs after the import
//! answers.

use miyagi_domain::expenses::{category, CategorySource, UNCATEGORISED};

use super::{merchants, payee};
use crate::model::Rule;

/// Where a transaction is filed and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Filed {
    pub category: String,
    pub by: CategorySource,
    pub confidence: f64,
    pub because: String,
}

impl Filed {
    fn new(category: &str, by: CategorySource, confidence: f64, because: String) -> Self {
        Self {
            category: category.to_string(),
            by,
            confidence,
            because,
        }
    }

    /// Nothing could tell (no model configured, or the model failed).
    pub fn unknown() -> Self {
        Self::new(
            UNCATEGORISED,
            CategorySource::None,
            0.0,
            "nothing recognised this payee".into(),
        )
    }
}

/// Stages 1–4: the answer when a rule, a code or a known name decides.
pub fn by_rules(description: &str, key: &str, mcc: Option<u16>, rules: &[Rule]) -> Option<Filed> {
    let upper = payee::upper(description);
    if let Some(rule) = rules
        .iter()
        .find(|r| !r.learned && payee::mentions(&upper, &r.pattern))
    {
        return Some(Filed::new(
            &rule.category,
            CategorySource::Rule,
            1.0,
            format!("your rule “{}”", rule.pattern),
        ));
    }
    if let Some(rule) = rules.iter().find(|r| r.learned && r.pattern == key) {
        return Some(Filed::new(
            &rule.category,
            CategorySource::Learned,
            0.98,
            format!(
                "you filed {} under {} before",
                rule.pattern,
                label(&rule.category)
            ),
        ));
    }
    if let Some((id, group)) = mcc.and_then(merchants::by_mcc) {
        return Some(Filed::new(
            id,
            CategorySource::Mcc,
            0.95,
            format!(
                "the bank's merchant code {} ({group})",
                mcc.unwrap_or_default()
            ),
        ));
    }
    if let Some((name, id)) = merchants::by_name(&upper) {
        return Some(Filed::new(
            id,
            CategorySource::Merchant,
            0.9,
            format!("known merchant {name} ({})", label(id)),
        ));
    }
    by_keyword(key)
}

/// Words too common to tell categories apart, even where only one description happens to use them.
const NOT_KEYWORDS: &[&str] = &[
    "with", "your", "from", "other", "anything", "fits", "nowhere", "else", "paid", "money",
    "bill", "store", "shop", "chain",
];

/// Each word (4 letters or more, a plural's `s` dropped) that exactly one category's label and
/// description use, with that category.
fn keywords() -> &'static std::collections::HashMap<String, &'static str> {
    static KEYWORDS: std::sync::OnceLock<std::collections::HashMap<String, &'static str>> =
        std::sync::OnceLock::new();
    KEYWORDS.get_or_init(|| {
        let mut seen: std::collections::HashMap<String, Option<&'static str>> =
            std::collections::HashMap::new();
        for c in miyagi_domain::expenses::CATEGORIES
            .iter()
            .filter(|c| c.id != UNCATEGORISED)
        {
            let mut words: Vec<String> = words_of(&format!("{} {}", c.label, c.about)).collect();
            words.sort();
            words.dedup();
            for word in words {
                seen.entry(word)
                    .and_modify(|owner| *owner = None)
                    .or_insert(Some(c.id));
            }
        }
        seen.into_iter()
            .filter_map(|(word, owner)| Some((word, owner?)))
            .collect()
    })
}

fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 4)
        .map(|w| w.to_lowercase().trim_end_matches('s').to_string())
        .filter(|w| !NOT_KEYWORDS.contains(&w.as_str()))
}

/// Stage 4, second half: the first of the payee's words that names one category only.
fn by_keyword(key: &str) -> Option<Filed> {
    let keywords = keywords();
    words_of(key).find_map(|word| {
        keywords.get(&word).map(|id| {
            Filed::new(
                id,
                CategorySource::Keyword,
                0.8,
                format!("“{}” names {}", word.to_uppercase(), label(id)),
            )
        })
    })
}

/// Something already filed, as stage 5 compares payees with it.
#[derive(Debug, Clone)]
pub struct Example {
    /// The payee key, merchant name, or category label.
    pub text: String,
    pub category: String,
    pub kind: ExampleKind,
    pub vector: Vec<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExampleKind {
    /// A payee the person filed themselves.
    Person,
    Merchant,
    /// A category's own description.
    Category,
}

/// A payee the person filed is this alike or more: it is the same payee, written differently.
pub const SAME_PAYEE: f32 = 0.55;
/// Below this, the nearest known merchant or category description says nothing.
pub const MIN_SIMILARITY: f32 = 0.40;
/// How far the nearest category must lead the next one to be more than a close call.
pub const MARGIN: f32 = 0.04;
/// How many categories the model chooses among: the nearest by meaning.
pub const SHORTLIST: usize = 3;

/// What stage 5 found for one payee: a filing, or the categories the model should choose among.
pub enum Nearest {
    Filed(Filed),
    Shortlist(Vec<String>),
}

/// Stage 5: the payee's nearest examples by cosine similarity (vectors are unit length). The
/// thresholds were measured on the synthetic households (BENCHMARKS.md, "Expense categorisation").
pub fn nearest(vector: &[f32], examples: &[Example]) -> Nearest {
    let mut scored: Vec<(f32, &Example)> = examples
        .iter()
        .map(|e| (dot(vector, &e.vector), e))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    if let Some((similarity, best)) = scored
        .iter()
        .find(|(_, e)| e.kind == ExampleKind::Person)
        .filter(|(s, _)| *s >= SAME_PAYEE)
    {
        let because = format!(
            "like {}, which you filed under {}",
            best.text,
            label(&best.category)
        );
        return Nearest::Filed(Filed::new(
            &best.category,
            CategorySource::Similar,
            f64::from(*similarity),
            because,
        ));
    }
    // Each category by its nearest example, best first.
    let mut ranked: Vec<(f32, &Example)> = Vec::new();
    for (similarity, example) in &scored {
        if example.category != UNCATEGORISED
            && !ranked.iter().any(|(_, e)| e.category == example.category)
        {
            ranked.push((*similarity, example));
        }
    }
    let lead = match ranked.as_slice() {
        [(first, _), (second, _), ..] => first - second,
        [(first, _)] => *first,
        [] => 0.0,
    };
    if let Some((similarity, best)) = ranked.first().filter(|(s, _)| *s >= MIN_SIMILARITY) {
        let mut because = match best.kind {
            ExampleKind::Category => format!(
                "reads like {}: {}",
                label(&best.category),
                about(&best.category)
            ),
            ExampleKind::Merchant => format!(
                "close to {}, a known {} merchant",
                best.text,
                label(&best.category).to_lowercase()
            ),
            ExampleKind::Person => format!(
                "close to {}, which you filed under {}",
                best.text,
                label(&best.category)
            ),
        };
        // A close call is still filed by meaning: measured on the synthetic households, the
        // nearest category beat the small local model's choice between the close ones (BENCHMARKS.md).
        let mut confidence = f64::from(*similarity);
        if lead < MARGIN {
            because.push_str(&format!(
                "; a close call with {}",
                label(&ranked[1].1.category)
            ));
            confidence /= 2.0;
        }
        return Nearest::Filed(Filed::new(
            &best.category,
            CategorySource::Similar,
            confidence,
            because,
        ));
    }
    Nearest::Shortlist(
        ranked
            .iter()
            .take(SHORTLIST)
            .map(|(_, e)| e.category.clone())
            .collect(),
    )
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn label(id: &str) -> &'static str {
    category(id).map_or("Uncategorised", |c| c.label)
}

fn about(id: &str) -> &'static str {
    category(id).map_or("", |c| c.about)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use uuid::Uuid;

    fn rule(pattern: &str, category: &str, learned: bool) -> Rule {
        Rule {
            id: Uuid::nil(),
            pattern: pattern.into(),
            category: category.into(),
            learned,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_persons_rule_wins_over_everything_else() {
        let rules = [rule("UBER", "TRAVEL_FLIGHTS", false)];
        let filed = by_rules("UBER EATS 123", "UBER EATS", Some(5812), &rules).unwrap();
        assert_eq!(
            (filed.category.as_str(), filed.by),
            ("TRAVEL_FLIGHTS", CategorySource::Rule)
        );
        assert_eq!(filed.because, "your rule “UBER”");
    }

    #[test]
    fn a_learned_rule_matches_its_payee_only() {
        let rules = [rule("JOES PLACE", "FOOD_AND_DRINK_COFFEE", true)];
        assert_eq!(
            by_rules("JOES PLACE #9", "JOES PLACE", None, &rules)
                .unwrap()
                .by,
            CategorySource::Learned
        );
        assert!(by_rules("JOES PLACE ANNEX", "JOES PLACE ANNEX", None, &rules).is_none());
    }

    #[test]
    fn the_bank_code_comes_before_the_name() {
        let filed = by_rules("TARGET 0042", "TARGET", Some(5411), &[]).unwrap();
        assert_eq!(
            (filed.category.as_str(), filed.by),
            ("FOOD_AND_DRINK_GROCERIES", CategorySource::Mcc)
        );
    }

    #[test]
    fn a_word_only_one_category_names_files_by_it() {
        let filed = by_rules("TST* MARIOS TRATTORIA", "MARIOS TRATTORIA", None, &[]).unwrap();
        assert_eq!(
            (filed.category.as_str(), filed.by),
            ("FOOD_AND_DRINK_RESTAURANT", CategorySource::Keyword)
        );
        assert_eq!(filed.because, "“TRATTORIA” names Restaurants");
    }

    #[test]
    fn a_word_several_categories_use_names_none() {
        // "bar": a sushi bar, an espresso bar, a bar that pours beer.
        assert!(by_rules("HARBOR BAR", "HARBOR BAR", None, &[]).is_none());
    }

    #[test]
    fn an_unknown_payee_goes_to_the_later_stages() {
        assert!(by_rules("ZQXV KRLM", "ZQXV KRLM", None, &[]).is_none());
    }

    fn example(text: &str, category: &str, kind: ExampleKind, vector: Vec<f32>) -> Example {
        Example {
            text: text.into(),
            category: category.into(),
            kind,
            vector,
        }
    }

    #[test]
    fn a_near_enough_neighbour_files_and_says_which_it_was() {
        let examples = [
            example(
                "BLUE BOTTLE",
                "FOOD_AND_DRINK_COFFEE",
                ExampleKind::Person,
                vec![1.0, 0.0],
            ),
            example(
                "KROGER",
                "FOOD_AND_DRINK_GROCERIES",
                ExampleKind::Merchant,
                vec![0.9, 0.436],
            ),
        ];
        let Nearest::Filed(filed) = nearest(&[0.8, 0.6], &examples) else {
            panic!("expected a filing")
        };
        assert_eq!(filed.by, CategorySource::Similar);
        assert_eq!(
            filed.because,
            "like BLUE BOTTLE, which you filed under Coffee"
        );
    }

    #[test]
    fn a_category_clearly_nearest_files_by_its_description() {
        let examples = [
            example(
                "Coffee: cafe",
                "FOOD_AND_DRINK_COFFEE",
                ExampleKind::Category,
                vec![0.6, 0.8],
            ),
            example(
                "KROGER",
                "FOOD_AND_DRINK_GROCERIES",
                ExampleKind::Merchant,
                vec![0.3, 0.954],
            ),
        ];
        let Nearest::Filed(filed) = nearest(&[1.0, 0.0], &examples) else {
            panic!("expected a filing")
        };
        assert_eq!(filed.category, "FOOD_AND_DRINK_COFFEE");
        assert_eq!(
            filed.because,
            "reads like Coffee: coffee shop, cafe, espresso bar, bakery, tea house"
        );
    }

    #[test]
    fn a_close_call_is_filed_by_the_nearest_and_says_so() {
        let examples = [
            example(
                "A",
                "FOOD_AND_DRINK_COFFEE",
                ExampleKind::Category,
                vec![0.5, 0.866],
            ),
            example(
                "B",
                "TRAVEL_FLIGHTS",
                ExampleKind::Category,
                vec![0.52, 0.854],
            ),
        ];
        let Nearest::Filed(filed) = nearest(&[1.0, 0.0], &examples) else {
            panic!("expected a filing")
        };
        assert!(
            filed.because.ends_with("; a close call with Coffee"),
            "{}",
            filed.because
        );
        assert!(filed.confidence < 0.3);
    }

    #[test]
    fn a_payee_like_nothing_known_goes_to_the_model_with_the_nearest_categories_first() {
        let examples = [
            example(
                "A",
                "FOOD_AND_DRINK_COFFEE",
                ExampleKind::Category,
                vec![0.2, 0.98],
            ),
            example(
                "B",
                "TRAVEL_FLIGHTS",
                ExampleKind::Category,
                vec![0.3, 0.954],
            ),
            example(
                "C",
                "TRAVEL_FLIGHTS",
                ExampleKind::Merchant,
                vec![0.25, 0.968],
            ),
        ];
        let Nearest::Shortlist(list) = nearest(&[1.0, 0.0], &examples) else {
            panic!("expected a shortlist")
        };
        assert_eq!(list, vec!["TRAVEL_FLIGHTS", "FOOD_AND_DRINK_COFFEE"]);
    }
}
