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
