//! The events this service publishes, on topic `miyagi.advice`, keyed by the profile the advice
//! is for (so one person's advice events stay in order).

use miyagi_domain::{
    advice::AdviceGenerated,
    events::{topics, types},
    image::{Card, ClassShare},
};
use miyagi_platform::events::CloudEvent;

use crate::model::Advice;

pub const SOURCE: &str = "/miyagi/advisor";
pub const TOPIC: &str = topics::ADVICE;

pub fn generated(owner: &str, advice: &Advice) -> CloudEvent {
    let payload = AdviceGenerated {
        advice_id: advice.id,
        owner: owner.to_string(),
        user_id: advice.user_id,
        trigger: advice.trigger,
        created_at: advice.created_at,
        narrative: advice.narrative.clone(),
        recommendations: advice
            .assets
            .portfolio
            .iter()
            .map(|a| format!("{}: {}", a.name, a.gpt_recommendation))
            .chain(
                advice
                    .investments
                    .portfolio
                    .iter()
                    .map(|s| format!("{}: {}", s.symbol, s.gpt_recommendation)),
            )
            .collect(),
        cards: vec![Card::TargetMix {
            shares: advice
                .assets
                .portfolio
                .iter()
                .map(|a| ClassShare {
                    class: a.name.clone(),
                    share: a.target,
                })
                .collect(),
        }],
    };
    CloudEvent::new(
        SOURCE,
        types::ADVICE_GENERATED,
        advice.user_id.to_string(),
        &payload,
    )
}
