//! Rules for free text a person writes, shared by every service's input validation.

use validator::ValidationError;

/// Control characters (NUL above all: PostgreSQL cannot store it) have no place in what a
/// person writes; newlines and tabs do.
pub fn printable(text: &str) -> Result<(), ValidationError> {
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::new("control_character")
            .with_message("must not contain control characters".into()));
    }
    Ok(())
}

/// Printable, and more than whitespace.
pub fn not_blank(text: &str) -> Result<(), ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError::new("blank").with_message("must not be blank".into()));
    }
    printable(text)
}

/// [`not_blank`] as a JSON Schema pattern (`char::is_control` is Unicode's Cc), for the OpenAPI
/// document. Field attributes need their patterns as literals, so they spell this and
/// [`printable`]'s out; the schemathesis test in the cli crate catches a document that drifts.
pub const NOT_BLANK_PATTERN: &str = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_pass_and_nul_or_blank_text_does_not() {
        assert!(printable("two\nlines\tand a tab").is_ok());
        assert!(printable("nul\0").is_err());
        assert!(not_blank(" \n ").is_err());
        assert!(not_blank("a question").is_ok());
    }
}
