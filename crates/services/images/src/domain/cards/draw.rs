//! The cards as SVG: pure functions from figures to a drawing, so what a card says can be
//! tested as text. Each card is laid out on a 1024-unit square, scaled into the size asked for
//! and centred; the words a card prints come from the finance engine's own formatting
//! (`miyagi_finance::words`), the same as the advisor and the coach write them.

use std::fmt::Write;

use miyagi_domain::{expenses::SpendingSummarised, markets::PositionValue};
use miyagi_finance::{
    allocation::{Allocation, AssetClass},
    profile::{PlannedProjection, Reading},
    words::{count, money, percent},
};
use miyagi_kernel::ImageSize;

/// A card before it is placed: its words and its chart.
pub struct Drawing {
    pub title: String,
    pub subtitle: String,
    /// SVG elements in the 1024-unit square, between the heading and the footer.
    pub chart: String,
    /// Where the figures come from, printed at the foot.
    pub source: &'static str,
    /// One sentence of what the card shows, for people who cannot see it (the image's
    /// `revised_prompt` and the page's alt text).
    pub caption: String,
}

const INK: &str = "#0f172a";
const MUTED: &str = "#475569";
const ACCENT: &str = "#0f766e";
const GAIN: &str = "#15803d";
const LOSS: &str = "#b91c1c";
/// One colour per asset class, in `AssetClass::ALL` order.
const CLASS_COLOURS: [&str; 4] = ["#0f766e", "#2563eb", "#a3a3a3", "#d97706"];

/// The whole card at `size`: background, heading, chart, footer.
pub fn svg(drawing: &Drawing, size: ImageSize) -> String {
    let (w, h) = (f64::from(size.width), f64::from(size.height));
    let scale = w.min(h) / 1024.0;
    let (dx, dy) = ((w - 1024.0 * scale) / 2.0, (h - 1024.0 * scale) / 2.0);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans">
<rect width="{w}" height="{h}" fill="#f8fafc"/>
<g transform="translate({dx:.1} {dy:.1}) scale({scale:.4})">
<rect x="0" y="0" width="1024" height="150" fill="{ACCENT}"/>
<text x="56" y="98" font-size="50" font-weight="bold" fill="#ffffff">{title}</text>
<text x="56" y="215" font-size="30" fill="{MUTED}">{subtitle}</text>
{chart}
<line x1="56" y1="950" x2="968" y2="950" stroke="#cbd5e1" stroke-width="2"/>
<text x="56" y="992" font-size="22" fill="{MUTED}">Miyagi · {source}</text>
</g>
</svg>"##,
        title = escape(&drawing.title),
        subtitle = escape(&drawing.subtitle),
        chart = drawing.chart,
        source = escape(drawing.source),
    )
}

/// A mix as a donut with its legend, `centre` (a label and a figure) in its hole; the chart and
/// the mix in words ("Stocks 70%").
fn donut(mix: &Allocation, centre: (&str, &str)) -> (String, Vec<String>) {
    let (cx, cy, r) = (330.0, 580.0, 210.0);
    let circumference = 2.0 * std::f64::consts::PI * r;
    let mut chart = String::new();
    let mut start = 0.0;
    let mut legend_y = 420.0;
    let mut parts = Vec::new();
    for (class, colour) in AssetClass::ALL.into_iter().zip(CLASS_COLOURS) {
        let share = mix.get(class);
        if share <= 0.0 {
            continue;
        }
        let length = share * circumference;
        let _ = write!(
            chart,
            r##"<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{colour}" stroke-width="110" stroke-dasharray="{length:.2} {gap:.2}" stroke-dashoffset="{offset:.2}" transform="rotate(-90 {cx} {cy})"/>"##,
            gap = circumference - length,
            offset = -start,
        );
        let _ = write!(
            chart,
            r##"<rect x="640" y="{y}" width="36" height="36" rx="6" fill="{colour}"/><text x="696" y="{ty}" font-size="34" fill="{INK}">{label} <tspan font-weight="bold">{share}</tspan></text>"##,
            y = legend_y - 30.0,
            ty = legend_y,
            label = class_name(class),
            share = percent(share),
        );
        parts.push(format!("{} {}", class_name(class), percent(share)));
        start += length;
        legend_y += 70.0;
    }
    let _ = write!(
        chart,
        r##"<text x="{cx}" y="{y1}" font-size="30" fill="{MUTED}" text-anchor="middle">{label}</text><text x="{cx}" y="{y2}" font-size="56" font-weight="bold" fill="{INK}" text-anchor="middle">{value}</text>"##,
        y1 = cy - 10.0,
        y2 = cy + 50.0,
        label = escape(centre.0),
        value = escape(centre.1),
    );
    (chart, parts)
}

/// The engine's target mix for a profile.
pub fn allocation(name: &str, reading: &Reading) -> Drawing {
    let score = format!("{:.2}", reading.risk.score);
    let (chart, parts) = donut(&reading.target, ("risk score", &score));
    let years = reading.household.years_to_retirement();
    Drawing {
        title: format!("{}'s target mix", first_name(name)),
        subtitle: format!(
            "{} to retirement · risk score {score} of 1",
            plural(years, "year")
        ),
        chart,
        source: "the finance engine's target for your profile",
        caption: format!(
            "A card of {}'s target mix from Miyagi's finance engine: {}.",
            first_name(name),
            parts.join(", ")
        ),
    }
}

/// The mix a piece of advice recommends: its own target, which weighs what the person holds and
/// their cash reserve, so it can differ from the profile's alone.
pub fn advised_mix(name: Option<&str>, mix: &Allocation) -> Drawing {
    let (chart, parts) = donut(mix, ("target", "mix"));
    let whose = |your: &str| name.map_or(your.to_string(), |n| format!("{}'s", first_name(n)));
    Drawing {
        title: format!("{} advised mix", whose("Your")),
        subtitle: "What the advice recommends holding, class by class".into(),
        chart,
        source: "the finance engine's target in this advice",
        caption: format!(
            "A card of the target mix in {} advice from Miyagi's finance engine: {}.",
            whose("your"),
            parts.join(", ")
        ),
    }
}

/// Wealth over the years: the 10th–90th and 25th–75th percentile bands and the median line.
pub fn projection(
    name: &str,
    retirement_age: u32,
    age: u32,
    planned: &PlannedProjection,
) -> Drawing {
    let years = &planned.projection.years;
    let end = planned.projection.at_retirement();
    let (left, right, top, bottom) = (170.0, 940.0, 300.0, 860.0);
    let top_value = nice_ceiling(years.iter().map(|y| y.p90).fold(1.0, f64::max));
    let x = |year: u32| left + (right - left) * f64::from(year) / f64::from(planned.years.max(1));
    let y = |value: f64| bottom - (bottom - top) * (value / top_value).clamp(0.0, 1.0);
    let band = |low: &dyn Fn(&miyagi_finance::projection::YearBand) -> f64,
                high: &dyn Fn(&miyagi_finance::projection::YearBand) -> f64| {
        let upper = years
            .iter()
            .map(|b| format!("{:.1},{:.1}", x(b.year), y(high(b))));
        let lower = years
            .iter()
            .rev()
            .map(|b| format!("{:.1},{:.1}", x(b.year), y(low(b))));
        upper.chain(lower).collect::<Vec<_>>().join(" ")
    };
    let mut chart = String::new();
    for step in 0..=4 {
        let value = top_value * f64::from(step) / 4.0;
        let _ = write!(
            chart,
            r##"<line x1="{left}" y1="{gy:.1}" x2="{right}" y2="{gy:.1}" stroke="#e2e8f0" stroke-width="2"/><text x="{lx}" y="{ty:.1}" font-size="26" fill="{MUTED}" text-anchor="end">{label}</text>"##,
            gy = y(value),
            lx = left - 16.0,
            ty = y(value) + 9.0,
            label = money(value),
        );
    }
    let _ = write!(
        chart,
        r##"<polygon points="{outer}" fill="{ACCENT}" fill-opacity="0.18"/><polygon points="{inner}" fill="{ACCENT}" fill-opacity="0.35"/><polyline points="{median}" fill="none" stroke="{ACCENT}" stroke-width="6"/>"##,
        outer = band(&|b| b.p10, &|b| b.p90),
        inner = band(&|b| b.p25, &|b| b.p75),
        median = years
            .iter()
            .map(|b| format!("{:.1},{:.1}", x(b.year), y(b.p50)))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let last = planned.years;
    let final_age = age + last;
    let _ = write!(
        chart,
        r##"<text x="{left}" y="905" font-size="26" fill="{MUTED}">now, age {age}</text><text x="{right}" y="905" font-size="26" fill="{MUTED}" text-anchor="end">age {final_age}</text><text x="{mx:.1}" y="{my:.1}" font-size="30" font-weight="bold" fill="{INK}" text-anchor="end">{p50}</text>"##,
        mx = right - 8.0,
        my = y(end.p50) - 16.0,
        p50 = money(end.p50),
    );
    let when = if final_age == retirement_age {
        format!("at {retirement_age}")
    } else {
        format!("in {}", plural(last, "year"))
    };
    Drawing {
        title: format!("{}'s wealth {when}", first_name(name)),
        subtitle: format!(
            "Middle {} · 1 in 10 below {} · 1 in 10 above {}",
            money(end.p50),
            money(end.p10),
            money(end.p90)
        ),
        chart,
        source: "finance engine projection, today's money",
        caption: format!(
            "A card of {}'s wealth projected {when} by Miyagi's finance engine over {} simulated markets, saving {} a year: the middle ends at {}, 1 in 10 below {} and 1 in 10 above {}.",
            first_name(name),
            count(planned.projection.paths),
            money(planned.annual_savings),
            money(end.p50),
            money(end.p10),
            money(end.p90)
        ),
    }
}

/// The paper account's holdings by market value, each with its gain or loss on cost.
pub fn positions(positions: &[PositionValue]) -> Drawing {
    let mut held: Vec<&PositionValue> = positions.iter().filter(|p| p.shares > 0).collect();
    held.sort_by(|a, b| b.market_value.total_cmp(&a.market_value));
    let total: f64 = held.iter().map(|p| p.market_value).sum();
    let shown = &held[..held.len().min(8)];
    let largest = shown.first().map_or(1.0, |p| p.market_value.max(1.0));
    let mut chart = String::new();
    for (i, p) in shown.iter().enumerate() {
        let top = 290.0 + 76.0 * i as f64;
        let width = 520.0 * p.market_value / largest;
        let cost = p.average_cost * p.shares as f64;
        let change = if cost > 0.0 {
            p.market_value / cost - 1.0
        } else {
            0.0
        };
        let (colour, sign) = if change >= 0.0 {
            (GAIN, "+")
        } else {
            (LOSS, "−")
        };
        let _ = write!(
            chart,
            r##"<text x="56" y="{ty:.1}" font-size="32" font-weight="bold" fill="{INK}">{symbol}</text><rect x="200" y="{top:.1}" width="{width:.1}" height="48" rx="6" fill="{ACCENT}"/><text x="{vx:.1}" y="{ty:.1}" font-size="28" fill="{INK}">{value} <tspan fill="{colour}">{sign}{change}</tspan></text>"##,
            ty = top + 36.0,
            symbol = escape(&p.symbol),
            vx = 200.0 + width + 14.0,
            value = money(p.market_value),
            change = percent(change.abs()),
        );
    }
    let more = held.len() - shown.len();
    if more > 0 {
        let _ = write!(
            chart,
            r##"<text x="56" y="{y:.1}" font-size="26" fill="{MUTED}">and {more} more</text>"##,
            y = 290.0 + 76.0 * shown.len() as f64 + 30.0
        );
    }
    let caption = if shown.is_empty() {
        "A card of the paper account: it holds no stocks.".to_string()
    } else {
        format!(
            "A card of the paper account's {} worth {} in all: {}.",
            plural(held.len() as u32, "holding"),
            money(total),
            shown
                .iter()
                .map(|p| format!("{} {}", p.symbol, money(p.market_value)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Drawing {
        title: "Your paper positions".into(),
        subtitle: format!(
            "{} worth {} · change on what they cost",
            plural(held.len() as u32, "holding"),
            money(total)
        ),
        chart,
        source: "paper trading account, at the last trade",
        caption,
    }
}

/// The usual month: income against spending, and what is left.
pub fn spending(month: &SpendingSummarised) -> Drawing {
    let (income, spent) = (month.monthly_income, month.monthly_spending);
    let largest = income.max(spent).max(1.0);
    let mut chart = String::new();
    for (i, (label, amount, colour)) in [("Income", income, ACCENT), ("Spending", spent, "#d97706")]
        .into_iter()
        .enumerate()
    {
        let top = 330.0 + 150.0 * i as f64;
        let width = 600.0 * amount / largest;
        let _ = write!(
            chart,
            r##"<text x="56" y="{ty:.1}" font-size="34" fill="{INK}">{label}</text><rect x="250" y="{top:.1}" width="{width:.1}" height="80" rx="8" fill="{colour}"/><text x="{vx:.1}" y="{ty:.1}" font-size="34" font-weight="bold" fill="{INK}">{value}</text>"##,
            ty = top + 52.0,
            vx = 250.0 + width + 16.0,
            value = money(amount),
        );
    }
    let left = income - spent;
    let verdict = if left >= 0.0 {
        let share = if income > 0.0 { left / income } else { 0.0 };
        format!(
            "You keep {} a month, {} of income",
            money(left),
            percent(share)
        )
    } else {
        format!("You spend {} a month more than you earn", money(-left))
    };
    let _ = write!(
        chart,
        r##"<text x="56" y="760" font-size="38" font-weight="bold" fill="{colour}">{verdict}</text>"##,
        colour = if left >= 0.0 { GAIN } else { LOSS },
        verdict = escape(&verdict),
    );
    Drawing {
        title: "Your usual month".into(),
        subtitle: format!("Averaged over {}", plural(month.months, "full month")),
        chart,
        source: "your imported bank transactions",
        caption: format!(
            "A card of the usual month over {}: income {}, spending {}. {verdict}.",
            plural(month.months, "full month"),
            money(income),
            money(spent)
        ),
    }
}

fn class_name(class: AssetClass) -> &'static str {
    match class {
        AssetClass::RealEstate => "Real estate",
        other => other.as_str(),
    }
}

fn first_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or("Your")
}

fn plural(n: u32, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The smallest of 1, 2 or 5 times a power of ten at or above `value`: axis tops a person reads.
fn nice_ceiling(value: f64) -> f64 {
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|v| *v >= value)
        .unwrap_or(10.0 * power)
}

/// Text from people and events is data, never markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month() -> SpendingSummarised {
        SpendingSummarised {
            owner: "x".into(),
            monthly_income: 5000.0,
            monthly_spending: 4200.0,
            months: 3,
            as_of: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_name_cannot_open_markup_in_the_card() {
        let mut drawing = spending(&month());
        drawing.title = "<script>&".into();
        let svg = svg(&drawing, ImageSize::parse("512x512").unwrap());
        assert!(svg.contains("&lt;script&gt;&amp;"));
        assert!(!svg.contains("<script>"));
    }

    #[test]
    fn the_usual_month_says_what_is_left() {
        let drawing = spending(&month());
        assert_eq!(
            drawing.caption,
            "A card of the usual month over 3 full months: income $5k, spending $4k. You keep $800 a month, 16% of income."
        );
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(1_340_000.0), 2_000_000.0);
        assert_eq!(nice_ceiling(480.0), 500.0);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
    }
}
