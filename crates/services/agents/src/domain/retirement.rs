//! The retirement planner's arithmetic: the Monte Carlo projection of the plan as it stands and
//! of two variations a person can act on (save a fifth more, retire two years later), and the
//! sentences that compare them. Pure; the numbers come from `miyagi_finance::projection`.

use miyagi_finance::{
    allocation::Allocation,
    projection::{project, ProjectionInput, DEFAULT_PATHS},
    words::{self, money},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The same paths for every scenario, so that they differ by the choice alone.
const SEED: u64 = 2026;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetirementInputs {
    #[schemars(range(min = 18, max = 100))]
    pub age: u32,
    #[schemars(range(min = 30, max = 100))]
    pub retirement_age: u32,
    /// Dollars saved so far.
    #[schemars(range(min = 0.0, max = 1e10))]
    pub savings: f64,
    /// Dollars saved each year from now on.
    #[schemars(range(min = 0.0, max = 1e8))]
    pub annual_savings: f64,
    /// Share of the savings in stocks, 0–1 (the rest in bonds); by default 110 less the age,
    /// in percent, between 20% and 90%.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub stocks_share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    pub name: String,
    pub retirement_age: u32,
    pub annual_savings: f64,
    /// Wealth at retirement in today's dollars: 1 in 10 paths end below `p10`, half below `p50`.
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Projections {
    pub stocks_share: f64,
    pub scenarios: Vec<Scenario>,
    /// The scenarios compared, in sentences.
    pub summary: String,
}

/// Why inputs cannot be projected, in the person's terms.
pub fn check(inputs: &RetirementInputs) -> Result<(), String> {
    if inputs.retirement_age <= inputs.age {
        return Err(format!(
            "retirementAge ({}) must be after age ({})",
            inputs.retirement_age, inputs.age
        ));
    }
    Ok(())
}

pub fn project_scenarios(inputs: &RetirementInputs) -> Projections {
    let stocks = inputs
        .stocks_share
        .unwrap_or_else(|| (1.10 - f64::from(inputs.age) / 100.0).clamp(0.2, 0.9));
    let allocation = Allocation {
        stocks,
        bonds: 1.0 - stocks,
        cash: 0.0,
        real_estate: 0.0,
    };
    let scenario = |name: &str, retirement_age: u32, annual_savings: f64| {
        let projection = project(&ProjectionInput {
            starting_wealth: inputs.savings,
            annual_savings,
            years: retirement_age - inputs.age,
            allocation,
            paths: DEFAULT_PATHS,
            seed: SEED,
        });
        let end = projection.at_retirement();
        Scenario {
            name: name.into(),
            retirement_age,
            annual_savings,
            p10: end.p10,
            p50: end.p50,
            p90: end.p90,
        }
    };
    let scenarios = vec![
        scenario("as planned", inputs.retirement_age, inputs.annual_savings),
        scenario(
            "saving a fifth more",
            inputs.retirement_age,
            inputs.annual_savings * 1.2,
        ),
        scenario(
            "retiring two years later",
            inputs.retirement_age + 2,
            inputs.annual_savings,
        ),
    ];
    let summary = compare(inputs, stocks, &scenarios);
    Projections {
        stocks_share: stocks,
        scenarios,
        summary,
    }
}

fn compare(inputs: &RetirementInputs, stocks: f64, scenarios: &[Scenario]) -> String {
    let [planned, more, later] = scenarios else {
        unreachable!("three scenarios")
    };
    let gain = |s: &Scenario| money(s.p50 - planned.p50);
    format!(
        "Retiring at {} after saving {} a year, with {:.0}% in stocks, half the simulated markets leave you more than {} in today's money, and one in ten less than {}. \
         Saving a fifth more ({} a year) adds about {} to the middle outcome; working two more years, to {}, adds about {}.",
        planned.retirement_age,
        exact(inputs.annual_savings),
        stocks * 100.0,
        money(planned.p50),
        money(planned.p10),
        exact(more.annual_savings),
        gain(more),
        later.retirement_age,
        gain(later),
    )
}

/// Whole dollars, grouped: what a person said they save, as they said it.
fn exact(dollars: f64) -> String {
    let sign = if dollars < -0.5 { "-" } else { "" };
    format!("{sign}${}", words::count(dollars.abs().round() as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> RetirementInputs {
        RetirementInputs {
            age: 40,
            retirement_age: 65,
            savings: 150_000.0,
            annual_savings: 15_000.0,
            stocks_share: None,
        }
    }

    #[test]
    fn saving_more_and_retiring_later_each_raise_the_middle_outcome() {
        let p = project_scenarios(&inputs());
        let [planned, more, later] = &p.scenarios[..] else {
            panic!("three scenarios")
        };
        assert!(more.p50 > planned.p50 && later.p50 > planned.p50, "{p:?}");
        assert!(planned.p10 < planned.p50 && planned.p50 < planned.p90);
        assert!((p.stocks_share - 0.7).abs() < 1e-9, "{}", p.stocks_share);
    }

    #[test]
    fn the_summary_states_the_numbers_it_compares() {
        let p = project_scenarios(&inputs());
        assert!(
            p.summary
                .starts_with("Retiring at 65 after saving $15,000 a year, with 70% in stocks"),
            "{}",
            p.summary
        );
        assert!(
            p.summary.contains(&money(p.scenarios[0].p50)),
            "{}",
            p.summary
        );
        assert!(p.summary.contains("$18,000 a year"), "{}", p.summary);
    }

    #[test]
    fn a_retirement_age_not_after_the_age_is_refused_in_words() {
        let mut late = inputs();
        late.retirement_age = 40;
        assert_eq!(
            check(&late).unwrap_err(),
            "retirementAge (40) must be after age (40)"
        );
    }

    #[test]
    fn what_a_person_saves_reads_as_they_said_it() {
        assert_eq!(exact(10_800.0), "$10,800");
        assert_eq!(exact(-4_640.0), "-$4,640");
    }
}
