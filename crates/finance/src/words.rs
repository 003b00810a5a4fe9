//! Figures as a reader sees them in prose: the one way every writer of advice puts the engine's
//! numbers into words, so the same amount never reads two ways on two pages.

/// A share as a whole percentage: `0.42` → `42%`.
pub fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// An amount rounded to what a reader can take in: `$1.2M`, `$350k`, `$900`.
pub fn money(amount: f64) -> String {
    match amount.abs() {
        a if a >= 1e6 => format!("${:.1}M", amount / 1e6),
        a if a >= 1e3 => format!("${:.0}k", amount / 1e3),
        _ => format!("${amount:.0}"),
    }
}

/// A count with its thousands grouped: `2000` → `2,000` (never read as a year).
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_to_their_scale() {
        assert_eq!(money(1_234_567.0), "$1.2M");
        assert_eq!(money(349_600.0), "$350k");
        assert_eq!(money(-900.0), "$-900");
        assert_eq!(percent(0.425), "42%");
    }

    #[test]
    fn counts_group_their_thousands() {
        assert_eq!(count(999), "999");
        assert_eq!(count(2_000), "2,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }
}
