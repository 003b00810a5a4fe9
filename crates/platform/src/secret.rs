//! Secrets in configuration: database passwords, API key digests, signing secrets, SAS tokens.
//!
//! A secret never shows itself: `Debug` and `Serialize` mask it, so a config dump or a log line
//! cannot leak it, and code that needs the value says so with [`Secret::expose`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// A string that prints masked; read it with [`Secret::expose`].
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&masked(&self.0))
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&masked(&self.0))
    }
}

/// Masks a secret for display. A URL keeps its scheme, user, host and path (useful when checking
/// config) but loses its password and query (SAS tokens, `?password=`); anything else is hidden.
fn masked(value: &str) -> String {
    if value == "sqlite" || value == "memory" || value.is_empty() {
        return value.to_string();
    }
    match url::Url::parse(value) {
        Ok(mut url) if url.has_host() => {
            if url.password().is_some() {
                let _ = url.set_password(Some("********"));
            }
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        _ => "********".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_url_queries_and_plain_values_are_masked_too() {
        assert_eq!(
            masked("postgres://db/miyagi?password=hunter2"),
            "postgres://db/miyagi"
        );
        assert_eq!(
            masked("https://acct.blob.core.windows.net/c?sv=2024&sig=abc"),
            "https://acct.blob.core.windows.net/c"
        );
        assert_eq!(masked("plain-access-key"), "********");
    }
}
