//! Real embeddings to search: MiniLM vectors of distinct sentences of personal-finance text.
//!
//! No package here ships 100k sentences of the kind Miyagi indexes, so they are written from
//! templates over the things people say about their money (moves between accounts, spending
//! against the usual month, market moves, fees, debts, retirement questions). The vocabulary is
//! small and shared across templates, so the collection has what real notes and statements
//! have and random vectors lack: clusters of near-paraphrases, and neighbours that differ by one
//! account or one reason, which is where a graph index earns or loses its recall.

use std::{
    collections::HashSet,
    hash::{DefaultHasher, Hash, Hasher},
    path::PathBuf,
    time::Instant,
};

use miyagi_kernel::EmbeddingModel;
use miyagi_models::{
    cache::{ModelCache, MINILM},
    embeddings::LocalEmbedder,
};
use rand::{rngs::StdRng, seq::IndexedRandom, Rng, SeedableRng};

const WHO: [&str; 15] = [
    "I",
    "My partner",
    "We",
    "My sister",
    "Our household",
    "A retired teacher",
    "A freelance designer",
    "My father",
    "A young nurse",
    "The couple next door",
    "My flatmate",
    "A small-business owner",
    "An engineer in her thirties",
    "A widower",
    "My brother",
];
const ASKER: [&str; 8] = [
    "I",
    "we",
    "my parents",
    "a 45-year-old",
    "a new graduate",
    "a single parent",
    "someone self-employed",
    "a couple with twins",
];
const ACCOUNT: [&str; 12] = [
    "checking account",
    "savings account",
    "401(k)",
    "Roth IRA",
    "brokerage account",
    "emergency fund",
    "HSA",
    "529 plan",
    "money market fund",
    "workplace pension",
    "cash ISA",
    "joint account",
];
const ASSET: [&str; 15] = [
    "a total-market index fund",
    "short-term Treasury bonds",
    "an S&P 500 ETF",
    "international equities",
    "a target-date 2050 fund",
    "a high-yield savings account",
    "gold",
    "a dividend growth fund",
    "municipal bonds",
    "REITs",
    "emerging-market stocks",
    "a bond ladder",
    "cash",
    "tech stocks",
    "a small-cap value fund",
];
const REASON: [&str; 13] = [
    "after a pay rise",
    "because rates fell",
    "to cut fees",
    "before the baby arrived",
    "when the market dropped",
    "to rebalance",
    "after paying off the car loan",
    "to save for a house deposit",
    "once the bonus landed",
    "to lower risk near retirement",
    "after reading about inflation",
    "on the advisor's suggestion",
    "to diversify away from employer stock",
];
const CATEGORY: [&str; 15] = [
    "groceries",
    "rent",
    "dining out",
    "streaming subscriptions",
    "petrol",
    "childcare",
    "the gym",
    "utilities",
    "travel",
    "insurance premiums",
    "the phone bill",
    "home repairs",
    "pet care",
    "clothing",
    "gifts",
];
const PERIOD: [&str; 8] = [
    "last month",
    "in March",
    "this quarter",
    "over the past year",
    "in 2019",
    "during the 2020 crash",
    "this week",
    "since January",
];
const TREND: [&str; 5] = [
    "well above the usual month",
    "a little above usual",
    "below the usual month",
    "about the same as usual",
    "the most in a year",
];
const CONDITION: [&str; 8] = [
    "retirement is ten years away",
    "income is irregular",
    "the mortgage rate is 6%",
    "a child starts college in five years",
    "markets fall 20%",
    "inflation stays at 4%",
    "there is no emergency fund yet",
    "the job feels uncertain",
];
const MOVED: [&str; 6] = ["rose", "fell", "gained", "lost", "slipped", "climbed"];
const CAUSE: [&str; 8] = [
    "rates climbed",
    "earnings beat forecasts",
    "oil prices spiked",
    "the dollar weakened",
    "recession fears grew",
    "inflation cooled",
    "the central bank held rates",
    "tech shares sold off",
];
const DEBT: [&str; 6] = [
    "credit card",
    "car loan",
    "student loan",
    "mortgage",
    "personal loan",
    "buy-now-pay-later plan",
];
const RISK: [&str; 5] = [
    "cautious",
    "moderate",
    "aggressive",
    "balanced",
    "conservative",
];
const OUTCOME: [&str; 4] = [
    "stayed under it",
    "went over it",
    "hit it exactly",
    "blew through it",
];
const AMOUNT: [&str; 16] = [
    "$50", "$120", "$250", "$400", "$800", "$1,200", "$2,500", "$5,000", "$7,500", "$10,000",
    "$15,000", "$25,000", "$40,000", "$60,000", "$100,000", "$250,000",
];

fn sentence(rng: &mut StdRng) -> String {
    let [who, asker, account, asset, reason, category, period, amount, debt] = [
        &WHO[..],
        &ASKER,
        &ACCOUNT,
        &ASSET,
        &REASON,
        &CATEGORY,
        &PERIOD,
        &AMOUNT,
        &DEBT,
    ]
    .map(|list| *list.choose(rng).unwrap());
    let [trend, condition, moved, cause, risk, outcome] =
        [&TREND[..], &CONDITION, &MOVED, &CAUSE, &RISK, &OUTCOME].map(|l| *l.choose(rng).unwrap());
    let percent = format!("{:.1}%", rng.random_range(1..=120) as f64 / 10.0);
    match rng.random_range(0..10) {
        0 => format!("{who} moved {amount} from the {account} into {asset} {reason}."),
        1 => format!("{who} spent {amount} on {category} {period}, {trend}."),
        2 => format!("How much should {asker} keep in {asset} if {condition}?"),
        3 => format!(
            "{} {moved} {percent} {period} as {cause}.",
            capitalised(asset)
        ),
        4 => format!("{who} pays {percent} in fees on the {account}, about {amount} a year."),
        5 => format!(
            "A {risk} investor aged {} might hold {}% in stocks and the rest in {asset}.",
            rng.random_range(20..=75),
            rng.random_range(2..=19) * 5
        ),
        6 => format!(
            "{who} wants to retire at {} with {amount} saved and asks whether {asset} fits.",
            rng.random_range(50..=70)
        ),
        7 => format!(
            "The {account} earns {percent} interest while the {debt} charges {:.1}%.",
            rng.random_range(30..=300) as f64 / 10.0
        ),
        8 => {
            format!("{who} set a monthly budget of {amount} for {category} and {outcome} {period}.")
        }
        _ => format!("Should {asker} pay down the {debt} or put {amount} into {asset} {reason}?"),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `documents` distinct sentences, then `queries` more that are none of them.
fn sentences(documents: usize, queries: usize) -> (Vec<String>, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(42);
    let mut seen = HashSet::new();
    let mut all = Vec::with_capacity(documents + queries);
    while all.len() < documents + queries {
        let s = sentence(&mut rng);
        if seen.insert(s.clone()) {
            all.push(s);
        }
    }
    let queries = all.split_off(documents);
    (all, queries)
}

/// The embeddings of `documents` sentences and of `queries` held-out ones, from the cache when
/// this exact text was embedded before.
pub async fn embedded(documents: usize, queries: usize) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let (texts, questions) = sentences(documents, queries);
    let mut fingerprint = DefaultHasher::new();
    (&texts, &questions).hash(&mut fingerprint);
    let cache = cache_dir().join(format!(
        "finance-minilm-{documents}-{queries}-{:016x}.f32",
        fingerprint.finish()
    ));
    let dim = 384;
    if let Ok(bytes) = std::fs::read(&cache) {
        let floats: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let mut vectors: Vec<Vec<f32>> = floats.chunks(dim).map(<[f32]>::to_vec).collect();
        let held_out = vectors.split_off(documents);
        println!("embeddings: read from {}", cache.display());
        return (vectors, held_out);
    }
    let dir = ModelCache::new(ModelCache::default_dir())
        .ensure(&MINILM, true)
        .unwrap();
    let embedder = LocalEmbedder::load(&dir).unwrap();
    let started = Instant::now();
    let mut vectors = Vec::with_capacity(documents + queries);
    for batch in texts.chunks(64).chain(questions.chunks(64)) {
        vectors.extend(embedder.embed(batch).await.unwrap());
    }
    println!(
        "embeddings: {} sentences in {:.0} s, {:.0} sentences/s, cached in {}",
        vectors.len(),
        started.elapsed().as_secs_f64(),
        vectors.len() as f64 / started.elapsed().as_secs_f64(),
        cache.display()
    );
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = vectors
        .iter()
        .flatten()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    std::fs::write(&cache, bytes).unwrap();
    let held_out = vectors.split_off(documents);
    (vectors, held_out)
}

fn cache_dir() -> PathBuf {
    ModelCache::default_dir()
        .parent()
        .map_or_else(std::env::temp_dir, |p| p.join("bench"))
}
