//! The advice's words settled from the model's attempts: each attempt reviewed for sense, then
//! the first that passed, and where none did, the engine's own words. The narrative's opening
//! with the person's figures is written here too, so it is the code's on every path.

use miyagi_finance::{
    allocation::{Action, AssetClass},
    words::{money, percent},
};
use miyagi_memory::cite::Cited;

use crate::{
    model::{EngineResult, NarrativeAuthor, Writing},
    sense::{whole_sentences, Grounds},
    writing::{Answer, Checked},
};

/// What the checks found wrong with one attempt's narrative, if anything.
pub struct Review {
    problem: Option<String>,
}

impl Review {
    pub fn of(grounds: &Grounds, cited: &Cited<Answer>) -> Self {
        Self {
            problem: grounds.narrative_problem(whole_sentences(&cited.answer.narrative)),
        }
    }

    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }
}

/// The first attempt whose narrative passed; where none did, the engine's own sentences, with
/// the last reason reported in [`Writing::refused`].
pub fn settle(
    opening: &str,
    engine: &EngineResult,
    attempts: Vec<(Cited<Answer>, Review)>,
) -> Checked {
    let chosen = attempts
        .iter()
        .position(|(_, review)| review.problem.is_none());
    let (continuation, narrative_by, refused) = match chosen {
        Some(i) => (
            whole_sentences(&attempts[i].0.answer.narrative).to_string(),
            NarrativeAuthor::Model,
            Vec::new(),
        ),
        None => (
            template(engine),
            NarrativeAuthor::Template,
            attempts
                .last()
                .and_then(|(_, r)| r.problem.clone())
                .into_iter()
                .collect(),
        ),
    };
    let attempt_count = attempts.len() as u32;
    let (cited, _) = attempts
        .into_iter()
        .nth(chosen.unwrap_or(attempt_count as usize - 1))
        .expect("the chosen attempt exists");
    Checked {
        narrative: format!("{opening} {continuation}"),
        citations: cited.citations,
        rejected_citations: cited.rejected,
        writing: Writing {
            attempts: attempt_count,
            narrative_by,
            refused,
        },
    }
}

/// The narrative's first sentences, written by the code from the engine's figures: the person's
/// stock share against its target, and the median projection at retirement.
pub fn opening(engine: &EngineResult) -> String {
    let target = percent(engine.target.stocks);
    let share = match engine.current {
        Some(current) => format!(
            "Stocks are {} of your portfolio against a target of {target}.",
            percent(current.stocks)
        ),
        None => format!("Your target for stocks is {target} of your portfolio."),
    };
    format!(
        "{share} In today's money, the median projection for your wealth at retirement is {}.",
        money(engine.projection.at_retirement().p50)
    )
}

/// The engine's moves, each an action and the class it applies to, in words ("sell", "real
/// estate").
fn moves(engine: &EngineResult) -> impl Iterator<Item = (Action, String)> + '_ {
    engine
        .drift
        .iter()
        .filter(|d| d.action != Action::Hold)
        .map(|d| {
            let class = match d.class {
                AssetClass::RealEstate => "real estate".to_string(),
                class => class.as_str().to_lowercase(),
            };
            (d.action, class)
        })
}

/// The words the model's first sentence starts with: the engine's moves and which way they move
/// the person's risk ("Selling stocks and buying cash lowers the swings your savings take "), for
/// the model to go on with what that means for this person. Left
/// to start on its own, SmolLM2 wrote on topic in three answers of ten ("The icing on the cake
/// is not just about what you can do"); given only the moves, it went on in four of ten that
/// they were "not the only way to manage your wealth"; given "... back to its target mix,
/// which", it wanted a percentage it may not write (BENCHMARKS.md, "Advice in one attempt").
pub fn first_words(engine: &EngineResult) -> String {
    let moves: Vec<String> = moves(engine)
        .map(|(action, class)| {
            let doing = match action {
                Action::Buy => "buying",
                Action::Sell => "selling",
                Action::Hold => "holding",
            };
            format!("{doing} {class}")
        })
        .collect();
    let said = match moves.split_last() {
        None if engine.drift.is_empty() => "building toward your target mix".to_string(),
        None => "holding your mix as it is".to_string(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    };
    // Which way the plan moves risk is the engine's to say: left to say it, the model called
    // buying stocks a way "to reduce risk" in 13 of the 16 such answers.
    let does = match engine.drift.iter().find(|d| d.class == AssetClass::Stocks) {
        Some(d) if d.action == Action::Buy => "gives your savings more room to grow",
        Some(d) if d.action == Action::Sell => "lowers the swings your savings take",
        _ => "helps",
    };
    let mut chars = said.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or(' ');
    format!("{first}{} {does} ", chars.as_str())
}

/// The engine's own sentences, for a narrative the model could not write sensibly.
fn template(engine: &EngineResult) -> String {
    let risk = &engine.risk;
    let moves: Vec<String> = moves(engine)
        .map(|(action, class)| format!("{} {class}", action.as_str().to_lowercase()))
        .collect();
    let moves = if moves.is_empty() {
        "Your holdings are close enough to their targets to hold as they are.".to_string()
    } else {
        format!("To get there, the plan is to {}.", moves.join(", then "))
    };
    format!(
        "These targets come from a risk score of {:.2} for a {} investor {} years from retirement. {moves}",
        risk.score,
        engine.household.tolerance.as_str(),
        risk.years_to_retirement
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        engine::{compute, household},
        model::fixtures::request,
    };

    fn engine() -> EngineResult {
        let r = request();
        compute(&household(&r.user_info, None).unwrap(), &r, None, None)
    }

    fn attempt(grounds: &Grounds, narrative: &str) -> (Cited<Answer>, Review) {
        let cited = Cited {
            answer: Answer {
                narrative: narrative.into(),
            },
            citations: vec![],
            rejected: vec![],
        };
        let review = Review::of(grounds, &cited);
        (cited, review)
    }

    const GOOD: &str =
        "Your stocks have grown past your plan. Moving the excess into bonds steadies the ride.";

    #[test]
    fn the_opening_states_the_persons_stock_share_and_median_at_retirement() {
        let engine = engine();
        let opening = opening(&engine);
        assert!(
            opening.starts_with("Stocks are 80% of your portfolio against a target of "),
            "{opening}"
        );
        assert!(
            opening.contains(&percent(engine.target.stocks)),
            "{opening}"
        );
        assert!(
            opening.contains(&money(engine.projection.at_retirement().p50)),
            "{opening}"
        );
    }

    #[test]
    fn the_models_first_words_are_the_engines_moves() {
        let engine = engine();
        assert_eq!(
            first_words(&engine),
            "Selling stocks and buying cash lowers the swings your savings take "
        );
    }

    #[test]
    fn a_narrative_that_fails_twice_is_replaced_by_the_engines_words_marked_as_such() {
        let engine = engine();
        let grounds = Grounds::new("facts", 0);
        let attempts = vec![
            attempt(&grounds, "The Intelligent Investor"),
            attempt(&grounds, "16"),
        ];
        let checked = settle("Opening.", &engine, attempts);
        assert_eq!(checked.writing.narrative_by, NarrativeAuthor::Template);
        assert_eq!(checked.writing.attempts, 2);
        assert!(
            checked
                .narrative
                .starts_with("Opening. These targets come from a risk score of"),
            "{}",
            checked.narrative
        );
        assert_eq!(
            checked.writing.refused.len(),
            1,
            "{:?}",
            checked.writing.refused
        );
    }

    #[test]
    fn the_first_narrative_that_passed_is_kept_as_the_models() {
        let engine = engine();
        let grounds = Grounds::new("facts", 0);
        let attempts = vec![attempt(&grounds, "Too short."), attempt(&grounds, GOOD)];
        let checked = settle("Opening.", &engine, attempts);
        assert_eq!(checked.writing.narrative_by, NarrativeAuthor::Model);
        assert_eq!(checked.writing.attempts, 2);
        assert_eq!(checked.narrative, format!("Opening. {GOOD}"));
        assert!(
            checked.writing.refused.is_empty(),
            "{:?}",
            checked.writing.refused
        );
    }
}
