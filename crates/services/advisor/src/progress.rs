//! Progress of one personalize request, for callers that show it as it happens: which stage the
//! work is in, and the narrative as the model writes it (decoded from the streaming JSON answer
//! by the kernel's `structured::FieldTap`).

use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The finance engine computes the numbers.
    Engine,
    /// Library passages are retrieved for the household's situation.
    Library,
    /// The model writes the narrative.
    Writing,
    /// The advice is stored with its event.
    Saving,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Stage(Stage),
    Narrative(String),
}

/// Where progress goes; a closed receiver (the caller went away) is not an error, the advice
/// is still written and stored.
#[derive(Clone)]
pub struct Progress(pub UnboundedSender<Step>);

impl Progress {
    pub fn stage(&self, stage: Stage) {
        let _ = self.0.send(Step::Stage(stage));
    }

    pub fn narrative(&self, text: String) {
        if !text.is_empty() {
            let _ = self.0.send(Step::Narrative(text));
        }
    }
}
