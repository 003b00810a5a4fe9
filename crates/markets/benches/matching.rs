//! The matching core on one thread: throughput and per-command latency on a mixed workload, side
//! by side with the published `matchcore` crate on the same commands.
//!
//! `cargo bench -p miyagi-markets --bench matching`
//!
//! Workload (seeded, so every run and both engines see the same commands): a book prefilled with
//! two orders at each of 10,000 price levels (5,000 a side), then 1,000,000 commands: 55% new
//! passive limit orders (distance from the middle exponential, mean 50 ticks, up to 5,000),
//! 35% cancels of a live order, 10% marketable orders (half immediate-or-cancel limits 20 ticks
//! through the middle, half market orders), 1–100 lots each. The stream is recorded by running it
//! through our book once, so a cancel always names an order that is still live.
//!
//! Each engine runs the commands as its API asks: ours appends events to one reused buffer,
//! matchcore returns an outcome per command. Latency is `Instant` around each call (about 20 ns of
//! it is the clock itself); throughput is criterion's, over the whole stream.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use hdrhistogram::Histogram;
use rand::{rngs::StdRng, Rng, SeedableRng};

use miyagi_markets::{
    Book, Command, Event, Limits, NewOrder, OrderId, OrderKind, Owner, Price, Qty, SelfTrade, Side,
    TimeInForce,
};

const MID: i64 = 1_000_000;
const LEVELS_A_SIDE: i64 = 5_000;
const COMMANDS: usize = 1_000_000;
const LIMITS: Limits = Limits {
    max_qty: Qty(1_000_000),
    max_price: Price(10_000_000),
};

struct Workload {
    prefill: Vec<Command>,
    mixed: Vec<Command>,
}

fn place(id: u64, side: Side, qty: u64, kind: OrderKind) -> Command {
    Command::Place(NewOrder {
        id: OrderId(id),
        // One account per order: the comparison engine has no self-trade prevention to match.
        owner: Owner(id),
        side,
        qty: Qty(qty),
        kind,
        self_trade: SelfTrade::CancelResting,
    })
}

fn gtc(price: i64) -> OrderKind {
    OrderKind::Limit {
        price: Price(price),
        tif: TimeInForce::Gtc,
    }
}

/// `ticks` from the middle on `side`'s own side of the book.
fn away(side: Side, ticks: i64) -> i64 {
    match side {
        Side::Buy => MID - ticks,
        Side::Sell => MID + ticks,
    }
}

fn workload() -> Workload {
    let mut rng = StdRng::seed_from_u64(7);
    let mut prefill = Vec::new();
    for level in 1..=LEVELS_A_SIDE {
        for _ in 0..2 {
            for side in [Side::Buy, Side::Sell] {
                let id = prefill.len() as u64 + 1;
                prefill.push(place(id, side, 50, gtc(away(side, level))));
            }
        }
    }
    let mut book = Book::new(LIMITS);
    let mut events = Vec::new();
    for command in &prefill {
        book.execute(command, &mut events).unwrap();
    }
    // Every order that ever rested; one found gone when picked is dropped then.
    let mut resting: Vec<OrderId> = prefill
        .iter()
        .filter_map(|command| match command {
            Command::Place(order) => Some(order.id),
            _ => None,
        })
        .collect();
    let mut mixed = Vec::with_capacity(COMMANDS);
    while mixed.len() < COMMANDS {
        // An order's id is its command's position in the whole stream (see `theirs`).
        let id = (prefill.len() + mixed.len()) as u64 + 1;
        let side = if rng.random_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let qty = rng.random_range(1..=100);
        let roll: f64 = rng.random();
        let command = if roll < 0.55 {
            let ticks = (1 + (-rng.random::<f64>().ln() * 50.0) as i64).min(LEVELS_A_SIDE);
            resting.push(OrderId(id));
            place(id, side, qty, gtc(away(side, ticks)))
        } else if roll < 0.90 {
            let pick = rng.random_range(0..resting.len());
            let target = resting.swap_remove(pick);
            if book.order(target).is_none() {
                continue;
            }
            Command::Cancel {
                id: target,
                owner: Owner(target.0),
            }
        } else {
            let kind = if roll < 0.95 {
                OrderKind::Limit {
                    price: Price(away(side.opposite(), 20)),
                    tif: TimeInForce::Ioc,
                }
            } else {
                OrderKind::Market
            };
            place(id, side, qty, kind)
        };
        events.clear();
        book.execute(&command, &mut events).unwrap();
        mixed.push(command);
    }
    Workload { prefill, mixed }
}

fn prefilled(workload: &Workload) -> Book {
    let mut book = Book::new(LIMITS);
    let mut events = Vec::new();
    for command in &workload.prefill {
        book.execute(command, &mut events).unwrap();
    }
    book
}

/// The same commands in matchcore's terms. matchcore numbers each order with its command's
/// sequence number, which is why the workload gives each order its command's position as id.
mod theirs {
    use matchcore::{
        CancelCmd, Command, CommandKind, CommandMeta, LimitOrder, MarketOrder, NewOrder, OrderBook,
        OrderFlags, OrderId, OrderKind, Price, Quantity, QuantityPolicy, SequenceNumber, Side,
        SubmitCmd, TimeInForce, Timestamp,
    };

    pub fn book(prefill: &[Command]) -> OrderBook {
        let mut book = OrderBook::new("BENCH");
        for command in prefill {
            let outcome = book.execute(command);
            assert!(
                matches!(outcome, matchcore::CommandOutcome::Applied(_)),
                "{outcome:?}"
            );
        }
        book
    }

    /// `first` is the sequence number of the first command. matchcore counts from 0, our ids from
    /// 1, so an order's id in matchcore is one less.
    pub fn translate(commands: &[super::Command], first: u64) -> Vec<Command> {
        (first..)
            .zip(commands)
            .map(|(sequence, command)| {
                let kind = match command {
                    super::Command::Place(order) => {
                        assert_eq!(order.id.0, sequence + 1);
                        let side = match order.side {
                            super::Side::Buy => Side::Buy,
                            super::Side::Sell => Side::Sell,
                        };
                        let quantity = Quantity(order.qty.0);
                        let order = match order.kind {
                            super::OrderKind::Limit { price, tif } => {
                                let tif = match tif {
                                    super::TimeInForce::Ioc => TimeInForce::Ioc,
                                    _ => TimeInForce::Gtc,
                                };
                                NewOrder::Limit(LimitOrder::new(
                                    Price(price.0 as u64),
                                    QuantityPolicy::Standard { quantity },
                                    OrderFlags::new(side, false, tif),
                                ))
                            }
                            super::OrderKind::Market => {
                                NewOrder::Market(MarketOrder::new(quantity, side, false))
                            }
                        };
                        CommandKind::Submit(SubmitCmd { order })
                    }
                    super::Command::Cancel { id, .. } => CommandKind::Cancel(CancelCmd {
                        order_id: OrderId(id.0 - 1),
                        order_kind: OrderKind::Limit,
                    }),
                    other => unreachable!("the workload has no {other:?}"),
                };
                Command {
                    meta: CommandMeta {
                        sequence_number: SequenceNumber(sequence),
                        timestamp: Timestamp(sequence),
                    },
                    kind,
                }
            })
            .collect()
    }
}

fn main() {
    let workload = workload();
    let their_prefill = theirs::translate(&workload.prefill, 0);
    let their_mixed = theirs::translate(&workload.mixed, workload.prefill.len() as u64);
    same_fills(&workload, &their_prefill, &their_mixed);

    let ours = {
        let mut book = prefilled(&workload);
        let mut events = Vec::new();
        latencies(&workload.mixed, |command| {
            events.clear();
            let _ = black_box(book.execute(command, &mut events));
        })
    };
    let matchcore = {
        let mut book = theirs::book(&their_prefill);
        latencies(&their_mixed, |command| {
            black_box(book.execute(command));
        })
    };
    println!("| engine | commands | p50 | p99 | p99.9 | max |");
    println!("|---|---|---|---|---|---|");
    for (name, histogram) in [("miyagi-markets", &ours), ("matchcore 0.4", &matchcore)] {
        let ns = |q: f64| histogram.value_at_quantile(q);
        println!(
            "| {name} | {} | {} ns | {} ns | {} ns | {} ns |",
            histogram.len(),
            ns(0.5),
            ns(0.99),
            ns(0.999),
            histogram.max()
        );
    }

    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let mut group = criterion.benchmark_group("mixed workload, 1M commands");
    group.throughput(Throughput::Elements(workload.mixed.len() as u64));
    group.bench_function("miyagi-markets", |b| {
        b.iter_batched(
            || (prefilled(&workload), Vec::new()),
            |(mut book, mut events)| {
                for command in &workload.mixed {
                    events.clear();
                    let _ = black_box(book.execute(command, &mut events));
                }
                book
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("matchcore 0.4", |b| {
        b.iter_batched(
            || theirs::book(&their_prefill),
            |mut book| {
                for command in &their_mixed {
                    black_box(book.execute(command));
                }
                book
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    criterion.final_summary();
}

/// Both engines must do the same work for the comparison to mean anything: the same traded
/// quantity and no command refused.
fn same_fills(
    workload: &Workload,
    their_prefill: &[matchcore::Command],
    their_mixed: &[matchcore::Command],
) {
    let mut book = prefilled(workload);
    let mut events = Vec::new();
    for command in &workload.mixed {
        book.execute(command, &mut events)
            .expect("the workload is valid");
    }
    let ours: u64 = events
        .iter()
        .filter_map(|event| match event {
            Event::Trade(trade) => Some(trade.qty.0),
            _ => None,
        })
        .sum();
    let mut book = theirs::book(their_prefill);
    let mut theirs = 0;
    for command in their_mixed {
        match book.execute(command) {
            matchcore::CommandOutcome::Applied(matchcore::CommandReport::Submit(effects)) => {
                theirs += effects
                    .target_order()
                    .match_result()
                    .map_or(0, |result| result.executed_quantity().0);
            }
            matchcore::CommandOutcome::Applied(_) => {}
            matchcore::CommandOutcome::Rejected(failure) => {
                panic!("matchcore refused {command:?}: {failure:?}")
            }
        }
    }
    assert_eq!(ours, theirs, "the engines traded different quantities");
    println!(
        "Both engines traded {ours} lots over the {} commands.\n",
        workload.mixed.len()
    );
}

fn latencies<C>(commands: &[C], mut run: impl FnMut(&C)) -> Histogram<u64> {
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    for command in commands {
        let start = Instant::now();
        run(command);
        histogram.record(start.elapsed().as_nanos() as u64).unwrap();
    }
    histogram
}
