//! Invariants after any sequence of commands: a handful of owners trading one symbol in a narrow
//! band of prices, so orders meet, cross, self-trade, get replaced and cancelled often.

use std::collections::BTreeMap;

use proptest::prelude::*;

use miyagi_markets::{
    Book, Command, Event, NewOrder, OrderId, OrderKind, Owner, Price, Qty, SelfTrade, Side,
    Snapshot, TimeInForce,
};

use super::LIMITS;

#[derive(Debug, Clone)]
enum Op {
    Place {
        owner: u64,
        side: Side,
        qty: u64,
        kind: OrderKind,
        self_trade: SelfTrade,
    },
    Cancel {
        pick: usize,
        wrong_owner: bool,
    },
    Replace {
        pick: usize,
        price: i64,
        qty: u64,
    },
    Halt,
    Resume,
}

fn kind() -> impl Strategy<Value = OrderKind> {
    let limit = |tif| {
        (95i64..=105).prop_map(move |price| OrderKind::Limit {
            price: Price(price),
            tif,
        })
    };
    prop_oneof![
        5 => limit(TimeInForce::Gtc),
        1 => limit(TimeInForce::Ioc),
        2 => limit(TimeInForce::Fok),
        1 => limit(TimeInForce::PostOnly),
        1 => Just(OrderKind::Market),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let self_trade = prop_oneof![
        Just(SelfTrade::CancelResting),
        Just(SelfTrade::CancelIncoming),
        Just(SelfTrade::CancelBoth)
    ];
    prop_oneof![
        12 => (0u64..3, side, 1u64..=20, kind(), self_trade).prop_map(
            |(owner, side, qty, kind, self_trade)| Op::Place { owner, side, qty, kind, self_trade }
        ),
        4 => (any::<usize>(), prop::bool::weighted(0.2))
            .prop_map(|(pick, wrong_owner)| Op::Cancel { pick, wrong_owner }),
        3 => (any::<usize>(), 95i64..=105, 0u64..=25)
            .prop_map(|(pick, price, qty)| Op::Replace { pick, price, qty }),
        // Short halts: a halted book refuses most of what comes, which tests little else.
        1 => Just(Op::Halt),
        3 => Just(Op::Resume),
    ]
}

/// Turns generated operations into commands: fresh ids for new orders, and cancels and replaces
/// aimed at orders placed earlier (which may have filled or gone since).
fn commands(ops: Vec<Op>) -> Vec<Command> {
    let mut owners: Vec<Owner> = Vec::new();
    let mut commands = Vec::new();
    for op in ops {
        let command = match op {
            Op::Place {
                owner,
                side,
                qty,
                kind,
                self_trade,
            } => {
                owners.push(Owner(owner));
                Command::Place(NewOrder {
                    id: OrderId(owners.len() as u64),
                    owner: Owner(owner),
                    side,
                    qty: Qty(qty),
                    kind,
                    self_trade,
                })
            }
            Op::Cancel { .. } | Op::Replace { .. } if owners.is_empty() => continue,
            Op::Cancel { pick, wrong_owner } => {
                let index = pick % owners.len();
                let owner = owners[index];
                Command::Cancel {
                    id: OrderId(index as u64 + 1),
                    owner: if wrong_owner {
                        Owner(owner.0 + 1)
                    } else {
                        owner
                    },
                }
            }
            Op::Replace { pick, price, qty } => {
                let index = pick % owners.len();
                Command::Replace {
                    id: OrderId(index as u64 + 1),
                    owner: owners[index],
                    price: Price(price),
                    qty: Qty(qty),
                }
            }
            Op::Halt => Command::Halt,
            Op::Resume => Command::Resume,
        };
        commands.push(command);
    }
    commands
}

/// Every resting order's open quantity, as the events tell it.
#[derive(Default)]
struct Ledger {
    open: BTreeMap<OrderId, u64>,
}

impl Ledger {
    fn apply(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::Rested { id, qty, .. } => {
                    self.open.insert(*id, qty.0);
                }
                Event::Trade(trade) => {
                    let open = self.open.get_mut(&trade.maker).expect("makers rest");
                    *open -= trade.qty.0;
                    if *open == 0 {
                        self.open.remove(&trade.maker);
                    }
                }
                Event::Cancelled { id, qty, .. } => {
                    // An incoming order's unfilled rest was never in the book.
                    if let Some(open) = self.open.remove(id) {
                        assert_eq!(open, qty.0, "a cancel takes the whole open quantity");
                    }
                }
                Event::Replaced {
                    id,
                    qty,
                    kept_priority,
                    ..
                } => {
                    if *kept_priority {
                        self.open.insert(*id, qty.0);
                    } else {
                        self.open.remove(id);
                    }
                }
                Event::Halted | Event::Resumed => {}
            }
        }
    }
}

fn open_in(snapshot: &Snapshot) -> BTreeMap<OrderId, u64> {
    snapshot
        .bids
        .iter()
        .chain(&snapshot.asks)
        .map(|order| (order.id, order.qty.0))
        .collect()
}

/// What an order arriving with these events brought: the quantity it asked for, and its limit.
fn arrival(command: &Command, events: &[Event]) -> Option<(OrderId, Side, u64, Option<Price>)> {
    match command {
        Command::Place(order) => {
            let limit = match order.kind {
                OrderKind::Limit { price, .. } => Some(price),
                OrderKind::Market => None,
            };
            Some((order.id, order.side, order.qty.0, limit))
        }
        Command::Replace { id, price, qty, .. } => {
            let moved = events.iter().any(|event| {
                matches!(
                    event,
                    Event::Replaced {
                        kept_priority: false,
                        ..
                    }
                )
            });
            let side = events.iter().find_map(|event| match event {
                Event::Replaced { side, .. } => Some(*side),
                _ => None,
            })?;
            moved.then_some((*id, side, qty.0, Some(*price)))
        }
        _ => None,
    }
}

fn check_accepted(
    command: &Command,
    events: &[Event],
    before: &Snapshot,
) -> Result<(), TestCaseError> {
    let resting_before = open_in(before);
    let prices_before: BTreeMap<OrderId, Price> = before
        .bids
        .iter()
        .chain(&before.asks)
        .map(|order| (order.id, order.price))
        .collect();
    for event in events {
        if let Event::Trade(trade) = event {
            prop_assert!(trade.qty.0 > 0);
            prop_assert_ne!(
                trade.maker_owner,
                trade.taker_owner,
                "an owner traded with itself"
            );
            if resting_before.contains_key(&trade.maker) {
                prop_assert_eq!(
                    Some(&trade.price),
                    prices_before.get(&trade.maker),
                    "trades at the maker's price"
                );
            }
        }
    }
    if let Some((id, side, qty, limit)) = arrival(command, events) {
        let (mut traded, mut rested, mut cancelled) = (0, 0, 0);
        for event in events {
            match event {
                Event::Trade(trade) if trade.taker == id => {
                    traded += trade.qty.0;
                    prop_assert!(
                        side.crosses(limit, trade.price),
                        "filled beyond the limit: {:?}",
                        trade
                    );
                }
                Event::Rested {
                    id: rested_id, qty, ..
                } if *rested_id == id => rested += qty.0,
                Event::Cancelled {
                    id: cancelled_id,
                    qty,
                    ..
                } if *cancelled_id == id => cancelled += qty.0,
                _ => {}
            }
        }
        prop_assert_eq!(
            traded + rested + cancelled,
            qty,
            "quantity not conserved: {:?}",
            events
        );
        if let Command::Place(NewOrder {
            kind: OrderKind::Limit { tif, .. },
            ..
        }) = command
        {
            match tif {
                TimeInForce::Fok => {
                    prop_assert_eq!(traded, qty, "fill-or-kill half done: {:?}", events)
                }
                TimeInForce::PostOnly => prop_assert_eq!(traded, 0, "post-only took liquidity"),
                _ => {}
            }
        }
    }
    Ok(())
}

fn replay(commands: &[Command]) -> (Book, Vec<Event>) {
    let mut book = Book::new(LIMITS);
    let mut all = Vec::new();
    for command in commands {
        let _ = book.execute(command, &mut all);
    }
    (book, all)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_command_keeps_the_book_consistent(ops in prop::collection::vec(op(), 1..200)) {
        let commands = commands(ops);
        let mut book = Book::new(LIMITS);
        let mut ledger = Ledger::default();
        let mut events = Vec::new();
        for command in &commands {
            let before = book.snapshot();
            events.clear();
            match book.execute(command, &mut events) {
                Err(_) => {
                    prop_assert!(events.is_empty());
                    prop_assert_eq!(&book.snapshot(), &before, "a refused command changed the book");
                }
                Ok(()) => {
                    check_accepted(command, &events, &before)?;
                    ledger.apply(&events);
                }
            }
            if let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) {
                prop_assert!(bid < ask, "crossed book: bid {:?} ask {:?}", bid, ask);
            }
            prop_assert_eq!(&ledger.open, &open_in(&book.snapshot()), "events disagree with the book");
        }
    }

    #[test]
    fn replaying_the_journal_rebuilds_the_book_byte_for_byte(
        ops in prop::collection::vec(op(), 1..200),
        cut in any::<prop::sample::Index>(),
    ) {
        let commands = commands(ops);
        let (book, events) = replay(&commands);
        let (again, events_again) = replay(&commands);
        let bytes = serde_json::to_vec(&book.snapshot()).unwrap();
        prop_assert_eq!(&events, &events_again);
        prop_assert_eq!(&bytes, &serde_json::to_vec(&again.snapshot()).unwrap());

        // Recovery: the snapshot taken at any point, then the commands after it.
        let cut = cut.index(commands.len() + 1);
        let (prefix, _) = replay(&commands[..cut]);
        let mut recovered = Book::restore(&prefix.snapshot()).unwrap();
        for command in &commands[cut..] {
            let _ = recovered.execute(command, &mut Vec::new());
        }
        prop_assert_eq!(&bytes, &serde_json::to_vec(&recovered.snapshot()).unwrap());
    }
}
