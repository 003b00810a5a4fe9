//! The advisor's prompts: Semantic Kernel prompt directories under `advisor.prompts_dir`, read
//! on every use so an edited prompt takes effect at once. When that folder has no copy (a
//! binary run outside the repository), the copies built into the binary are used.

use std::path::PathBuf;

use include_dir::{include_dir, Dir};
use miyagi_kernel::{function::PromptFunction, KernelError};
use sha2::{Digest, Sha256};

static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../../prompts");

const PLUGIN: &str = "advisor";

#[derive(Debug, Clone)]
pub struct Prompts {
    dir: PathBuf,
}

/// A loaded prompt and a fingerprint of its text, so advice written with an older version of
/// the prompt is not served from the cache.
pub struct Prompt {
    pub function: PromptFunction,
    fingerprint: String,
}

impl Prompt {
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

impl Prompts {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn personalize(&self) -> Result<Prompt, KernelError> {
        self.load("Personalize")
    }

    fn load(&self, name: &str) -> Result<Prompt, KernelError> {
        let relative = PathBuf::from(PLUGIN).join(name);
        let on_disk = self.dir.join(&relative);
        let (skprompt, config) = if on_disk.join("skprompt.txt").is_file() {
            let read = |file: &str| {
                std::fs::read_to_string(on_disk.join(file)).map_err(|e| {
                    KernelError::Config(format!("{}: {e}", on_disk.join(file).display()))
                })
            };
            let config = match on_disk.join("config.json").is_file() {
                true => Some(read("config.json")?),
                false => None,
            };
            (read("skprompt.txt")?, config)
        } else {
            let built_in = |file: &str| {
                BUILT_IN
                    .get_file(relative.join(file))
                    .and_then(|f| f.contents_utf8())
                    .map(str::to_string)
            };
            let skprompt = built_in("skprompt.txt").ok_or_else(|| {
                KernelError::Config(format!("no built-in prompt {}", relative.display()))
            })?;
            (skprompt, built_in("config.json"))
        };
        let mut hasher = Sha256::new();
        hasher.update(&skprompt);
        hasher.update([0]);
        hasher.update(config.as_deref().unwrap_or(""));
        Ok(Prompt {
            function: PromptFunction::from_sk(PLUGIN, name, &skprompt, config.as_deref())?,
            fingerprint: hex::encode(hasher.finalize()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use miyagi_kernel::Kernel;
    use serde_json::Value;

    use super::*;

    fn args() -> BTreeMap<String, Value> {
        ["advisor", "profile", "facts", "opening"]
            .into_iter()
            .map(|k| (k.to_string(), Value::String(format!("<{k}>"))))
            .collect()
    }

    #[tokio::test]
    async fn the_built_in_prompt_renders_with_the_kernel_into_system_and_user_messages() {
        let prompts = Prompts::new(PathBuf::from("/no/such/folder"));
        let prompt = prompts.personalize().unwrap();
        let request = prompt
            .function
            .request(&Kernel::builder().build(), args())
            .await
            .unwrap();
        let messages = &request.messages;
        assert_eq!(messages.len(), 2);
        assert!(messages[0].content.contains("<advisor>"), "{messages:?}");
        assert!(messages[1].content.contains("<facts>"), "{messages:?}");
        assert_eq!(request.settings.max_tokens, Some(1200));
    }

    #[test]
    fn an_edited_prompt_on_disk_is_used_at_once_and_changes_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("advisor/Personalize");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("skprompt.txt"), "Advise {{$profile}}.").unwrap();
        let prompts = Prompts::new(dir.path().to_path_buf());
        let first = prompts.personalize().unwrap();
        std::fs::write(folder.join("skprompt.txt"), "Advise {{$profile}} kindly.").unwrap();
        let second = prompts.personalize().unwrap();
        assert_ne!(first.fingerprint(), second.fingerprint());
        assert!(second.function.template().source().contains("kindly"));
    }

    #[test]
    fn a_missing_required_input_is_refused_by_name() {
        let prompt = Prompts::new(PathBuf::from("/nowhere"))
            .personalize()
            .unwrap();
        let mut partial = args();
        partial.remove("facts");
        let err = prompt.function.complete_arguments(partial).unwrap_err();
        assert!(err.to_string().contains("facts"), "{err}");
    }
}
