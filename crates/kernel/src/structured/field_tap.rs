//! One string field of a JSON answer, followed as the answer streams.
//!
//! A model made to answer one JSON object (the schema forces it) still writes its prose in a
//! string field, so a reader watching the raw text would see quotes and escapes. [`FieldTap`]
//! follows the text piece by piece and hands on that field's characters, decoded, as soon as
//! they are known, while the whole answer is validated against its schema at the end.

#[derive(Debug)]
pub struct FieldTap {
    /// The field's key as it appears in JSON, quotes included.
    key: String,
    seen: String,
    /// Byte offset in `seen` up to which the text has been looked at.
    at: usize,
    state: TapState,
}

#[derive(Debug, Default, PartialEq)]
enum TapState {
    #[default]
    Seeking,
    Inside,
    Done,
}

impl FieldTap {
    /// A tap on the top-level string field `field`.
    pub fn new(field: &str) -> Self {
        Self {
            key: format!("\"{field}\""),
            seen: String::new(),
            at: 0,
            state: TapState::default(),
        }
    }

    /// Takes the next piece of the model's text; returns the field's characters it completes.
    pub fn feed(&mut self, piece: &str) -> String {
        self.seen.push_str(piece);
        let mut out = String::new();
        loop {
            match self.state {
                TapState::Done => return out,
                TapState::Seeking => {
                    let Some(key) = self.seen[self.at..].find(&self.key) else {
                        return out;
                    };
                    let after_key = self.at + key + self.key.len();
                    let rest = &self.seen[after_key..];
                    let trimmed = rest.trim_start();
                    let Some(after_colon) = trimmed.strip_prefix(':') else {
                        if trimmed.is_empty() {
                            return out; // the colon has not arrived yet
                        }
                        self.at = after_key; // the word appeared as a value, not a key
                        continue;
                    };
                    let value = after_colon.trim_start();
                    if value.is_empty() {
                        return out;
                    }
                    if !value.starts_with('"') {
                        self.state = TapState::Done;
                        return out;
                    }
                    self.at = self.seen.len() - value.len() + 1;
                    self.state = TapState::Inside;
                }
                TapState::Inside => {
                    let (decoded, consumed, closed) = decode(&self.seen[self.at..]);
                    out.push_str(&decoded);
                    self.at += consumed;
                    if closed {
                        self.state = TapState::Done;
                    }
                    return out;
                }
            }
        }
    }
}

/// Decodes a JSON string's inside up to its closing quote or to the last complete character;
/// returns the text, the bytes consumed and whether the string closed.
fn decode(raw: &str) -> (String, usize, bool) {
    let mut out = String::new();
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, i + 1, true),
            '\\' => {
                let Some((_, escape)) = chars.next() else {
                    return (out, i, false);
                };
                match escape {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex = raw.get(i + 2..i + 6);
                        match hex.and_then(|h| u32::from_str_radix(h, 16).ok()) {
                            Some(code) => {
                                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                                for _ in 0..4 {
                                    chars.next();
                                }
                            }
                            None if raw.len() < i + 6 => return (out, i, false),
                            None => out.push('\u{fffd}'),
                        }
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    (out, raw.len(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tap_all(pieces: &[&str]) -> Vec<String> {
        let mut tap = FieldTap::new("narrative");
        pieces.iter().map(|p| tap.feed(p)).collect()
    }

    #[test]
    fn the_narrative_comes_out_piece_by_piece_as_the_json_streams() {
        let out = tap_all(&[
            r#"{"narr"#,
            r#"ative": "Hold"#,
            " steady",
            r#", Ada.", "assets": []}"#,
        ]);
        assert_eq!(out, ["", "Hold", " steady", ", Ada."]);
    }

    #[test]
    fn escapes_are_decoded_even_when_split_across_pieces() {
        let out = tap_all(&[r#"{"narrative":"a\"#, r#"nb \u00"#, r#"e9 \"q\""}"#]);
        assert_eq!(out.concat(), "a\nb é \"q\"");
    }

    #[test]
    fn text_after_the_narrative_is_not_passed_on() {
        let out = tap_all(&[r#"{"assets":[{"note":"narrative"}],"narrative":"Yes","x":"no"}"#]);
        assert_eq!(out.concat(), "Yes");
    }
}
