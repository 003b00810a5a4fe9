//! A payee's key: what is left of a bank's description once its noise is gone, so the same shop
//! gets the same key on every statement ("POS PURCHASE KROGER #1234 CINCINNATI OH" and "KROGER
//! 0877 CINCINNATI OH" are both `KROGER CINCINNATI`). Learned rules, corrections and the
//! similar-payee examples are all keyed by it.

/// Words banks and card processors put before the merchant's name.
const LEADING_NOISE: &[&str] = &[
    "POS",
    "PURCHASE",
    "DEBIT",
    "CARD",
    "CHECKCARD",
    "ACH",
    "RECURRING",
    "VISA",
    "MC",
    "SQ",
    "TST",
    "PP",
    "PAYPAL",
    "ONLINE",
    "WEB",
    "ID",
    "PMT",
    "AUTH",
    "PREAUTHORIZED",
    "ELECTRONIC",
];
/// Words that never tell shops apart.
const FILLER: &[&str] = &[
    "COM", "WWW", "INC", "LLC", "LTD", "CO", "THE", "HTTPS", "NET",
];
const STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC",
];
/// Enough words to name a shop and its town; more is usually a reference number's neighbours.
const MAX_WORDS: usize = 3;

/// The payee key of a bank description; empty only when the description has no letters.
pub fn key(description: &str) -> String {
    let upper = upper(description);
    let mut words: Vec<&str> = upper
        .split(|c: char| !(c.is_alphanumeric() || c == '&'))
        .filter(|w| !w.is_empty() && !w.chars().any(|c| c.is_ascii_digit()))
        .filter(|w| !FILLER.contains(w))
        .collect();
    let first_name = words
        .iter()
        .position(|w| !LEADING_NOISE.contains(w))
        .unwrap_or(words.len());
    words.drain(..first_name);
    if words.len() > 1 && words.last().is_some_and(|w| STATES.contains(w)) {
        words.pop();
    }
    words.truncate(MAX_WORDS);
    words.join(" ")
}

/// The description as patterns are matched against it: upper case, apostrophes dropped
/// ("Trader Joe's" → "TRADER JOES").
pub fn upper(description: &str) -> String {
    description.to_uppercase().replace('\'', "")
}

/// Whether `pattern` (a person's rule or a merchant's name, upper case) names this payee: its
/// words appear in the description ([`upper`]), in order and whole, so "TARGET" does not match
/// "TARGETED".
pub fn mentions(description_upper: &str, pattern: &str) -> bool {
    let words: Vec<&str> = description_upper
        .split(|c: char| !(c.is_alphanumeric() || c == '&'))
        .filter(|w| !w.is_empty())
        .collect();
    let wanted: Vec<&str> = pattern.split_whitespace().collect();
    !wanted.is_empty()
        && words
            .windows(wanted.len())
            .any(|window| window == wanted.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_numbers_processors_and_states_are_not_the_payee() {
        assert_eq!(
            key("POS PURCHASE KROGER #1234 CINCINNATI OH"),
            "KROGER CINCINNATI"
        );
        assert_eq!(key("KROGER 0877 CINCINNATI OH"), "KROGER CINCINNATI");
        assert_eq!(key("SQ *BLUE BOTTLE COFFEE"), "BLUE BOTTLE COFFEE");
        assert_eq!(key("NETFLIX.COM 866-579-7172 CA"), "NETFLIX");
        assert_eq!(key("TST* Mario's Trattoria"), "MARIOS TRATTORIA");
    }

    #[test]
    fn a_description_of_digits_only_has_an_empty_key() {
        assert_eq!(key("#1234 5678"), "");
    }

    #[test]
    fn a_pattern_matches_whole_words_in_order() {
        assert!(mentions("UBER EATS PENDING", "UBER EATS"));
        assert!(!mentions("EATS UBER", "UBER EATS"));
        assert!(!mentions("TARGETED ADS", "TARGET"));
        assert!(mentions("AT&T BILL PAYMENT", "AT&T"));
    }
}
