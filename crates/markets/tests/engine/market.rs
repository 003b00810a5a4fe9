//! The history the market is calibrated from, the calibration, and the simulated traders.

use miyagi_markets::history::{DailyCloses, HistoryError};
use miyagi_markets::simulate::{
    Calibration, Flow, FlowConfig, PricePath, LIQUIDITY_TAKER, MARKET_MAKER, TRADING_DAYS,
    TRADING_SECOND,
};
use miyagi_markets::{Book, Event, OrderId, Side};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

use super::{gtc, run, ALICE, LIMITS};

#[test]
fn the_bundled_history_has_three_years_of_twenty_stocks() {
    let history = DailyCloses::bundled();
    assert_eq!(history.symbols().len(), 20);
    assert_eq!(
        history.dates().first().map(String::as_str),
        Some("2020-01-02")
    );
    assert_eq!(
        history.dates().last().map(String::as_str),
        Some("2022-12-28")
    );
    let aapl = history.closes("AAPL").unwrap();
    assert_eq!(aapl.len(), history.dates().len());
    assert_eq!(aapl.last(), Some(&125.674));
    assert!(history.closes("NOPE").is_none());
}

#[test]
fn a_history_file_with_a_bad_line_is_refused_naming_the_line() {
    let error = |csv: &str| {
        DailyCloses::from_csv(csv.as_bytes())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        error("Day,AAPL\n2020-01-02,1\n"),
        "the first column must be `Date`, found `Day`"
    );
    assert_eq!(
        error("Date,AAPL\n2020-01-02,1\n2020-01-03,-4\n"),
        "line 3: AAPL has `-4`, not a positive price"
    );
    assert_eq!(
        error("Date,AAPL\n2020-01-02,1\n2020-13-03,4\n"),
        "line 3: `2020-13-03` is not a date written YYYY-MM-DD"
    );
    assert_eq!(
        error("Date,AAPL\n2020-01-03,1\n2020-01-02,4\n"),
        "line 3: 2020-01-02 is not after the line before it"
    );
    assert!(matches!(
        DailyCloses::from_csv("Date,AAPL\n2020-01-02,1\n".as_bytes()),
        Err(HistoryError::TooShort(1))
    ));
    assert!(matches!(
        DailyCloses::from_csv("Date,AAPL\n2020-01-02,1,7\n2020-01-03,2\n".as_bytes()),
        Err(HistoryError::Csv(_))
    ));
}

#[test]
fn calibration_separates_a_crash_from_ordinary_days() {
    // Two years of ordinary days (1% a day, about 16% a year), and one day that falls 25%.
    let mut rng = StdRng::seed_from_u64(1);
    let mut closes = vec![100.0];
    for day in 1..=504 {
        let ordinary = 0.01 * rng.sample::<f64, _>(StandardNormal);
        let ret = if day == 250 { 0.75f64.ln() } else { ordinary };
        closes.push(closes.last().unwrap() * ret.exp());
    }
    let c = Calibration::from_closes(&closes).unwrap();
    assert!(
        (c.jumps_per_year - TRADING_DAYS / 504.0).abs() < 1e-9,
        "{c:?}"
    );
    assert!((c.jump_mean - 0.75f64.ln()).abs() < 1e-9, "{c:?}");
    // The crash does not leak into everyday volatility.
    assert!(
        (c.volatility - 0.01 * TRADING_DAYS.sqrt()).abs() < 0.01,
        "{c:?}"
    );
    assert_eq!(c.last_close, *closes.last().unwrap());
}

#[test]
fn calibrating_real_stocks_gives_believable_figures() {
    let history = DailyCloses::bundled();
    for symbol in history.symbols() {
        let c = Calibration::from_closes(history.closes(symbol).unwrap()).unwrap();
        assert!((0.1..0.8).contains(&c.volatility), "{symbol}: {c:?}");
        assert!((0.0..15.0).contains(&c.jumps_per_year), "{symbol}: {c:?}");
    }
    // March 2020 is in the sample: the S&P's worst days show as jumps in a bank.
    let bac = Calibration::from_closes(history.closes("BAC").unwrap()).unwrap();
    assert!(bac.jumps_per_year > 0.5, "{bac:?}");
}

#[test]
fn a_simulated_path_has_the_calibrated_volatility() {
    let calibration = Calibration {
        drift: 0.05,
        volatility: 0.25,
        jumps_per_year: 0.0,
        jump_mean: 0.0,
        jump_stdev: 0.0,
        last_close: 100.0,
    };
    let mut path = PricePath::new(calibration, 11);
    let days = 252 * 100;
    let returns: Vec<f64> = (0..days)
        .map(|_| {
            let before = path.price();
            (path.advance(1.0 / TRADING_DAYS) / before).ln()
        })
        .collect();
    let mean = returns.iter().sum::<f64>() / days as f64;
    let variance = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (days - 1) as f64;
    let volatility = (variance * TRADING_DAYS).sqrt();
    assert!(
        (volatility - 0.25).abs() < 0.01,
        "simulated volatility {volatility}"
    );
}

#[test]
fn the_same_seed_gives_the_same_path() {
    let calibration =
        Calibration::from_closes(DailyCloses::bundled().closes("MSFT").unwrap()).unwrap();
    let walk = |seed| {
        let mut path = PricePath::new(calibration, seed);
        (0..1000)
            .map(|_| path.advance(TRADING_SECOND))
            .collect::<Vec<_>>()
    };
    assert_eq!(walk(3), walk(3));
    assert_ne!(walk(3), walk(4));
}

/// An hour of simulated trading in a book that starts empty; returns the book and every event.
fn simulated_hour(symbol: &str) -> (Book, Flow, Vec<Event>) {
    let calibration =
        Calibration::from_closes(DailyCloses::bundled().closes(symbol).unwrap()).unwrap();
    let mut flow = Flow::new(calibration, FlowConfig::default(), 5);
    let mut book = Book::new(LIMITS);
    let mut ids = 1_000_000u64..;
    let mut events = Vec::new();
    for _ in 0..3600 {
        let commands = flow.step(&book, TRADING_SECOND, || OrderId(ids.next().unwrap()));
        for command in commands {
            book.execute(&command, &mut events)
                .unwrap_or_else(|reject| {
                    panic!("the simulated traders sent {command:?}: {reject}")
                });
        }
    }
    (book, flow, events)
}

#[test]
fn simulated_traders_keep_a_two_sided_market_around_the_fair_price() {
    let (book, flow, events) = simulated_hour("AAPL");
    let fair = flow.fair_price();
    let (bid, ask) = (book.best_bid().unwrap(), book.best_ask().unwrap());
    assert!(bid < ask);
    let middle = (bid.0 + ask.0) as f64 / 2.0 * 0.01;
    assert!(
        (middle / fair - 1.0).abs() < 0.002,
        "middle {middle}, fair {fair}"
    );
    let depth = book.depth(100);
    assert_eq!((depth.bids.len(), depth.asks.len()), (10, 10));
    let trades: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            Event::Trade(trade) => Some(trade),
            _ => None,
        })
        .collect();
    // About one market order every two seconds.
    assert!(
        (1400..2200).contains(&trades.len()),
        "{} trades",
        trades.len()
    );
    assert!(trades
        .iter()
        .all(|trade| trade.maker_owner == MARKET_MAKER && trade.taker_owner == LIQUIDITY_TAKER));
}

#[test]
fn a_persons_order_better_than_the_quotes_is_filled_by_the_takers() {
    let calibration =
        Calibration::from_closes(DailyCloses::bundled().closes("KO").unwrap()).unwrap();
    let mut flow = Flow::new(calibration, FlowConfig::default(), 9);
    let mut book = Book::new(LIMITS);
    let mut ids = 1_000_000u64..;
    let mut events = Vec::new();
    let mut step = |book: &mut Book, events: &mut Vec<Event>| {
        for command in flow.step(book, TRADING_SECOND, || OrderId(ids.next().unwrap())) {
            book.execute(&command, events).unwrap();
        }
    };
    step(&mut book, &mut events);
    // Alice bids just under the maker's offer: the best bid by far, first in line for sellers.
    let bid = book.best_ask().unwrap().0 - 1;
    run(&mut book, &[gtc(1, ALICE, Side::Buy, bid, 10)]);
    events.clear();
    for _ in 0..120 {
        step(&mut book, &mut events);
    }
    let filled: u64 = events
        .iter()
        .filter_map(|event| match event {
            Event::Trade(trade) if trade.maker == OrderId(1) => Some(trade.qty.0),
            _ => None,
        })
        .sum();
    assert_eq!(filled, 10, "Alice's bid was not filled in two minutes");
}
