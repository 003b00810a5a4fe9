//! The markets engine, specified: the book's rules one behaviour at a time (`book`), the
//! invariants that hold after any sequence of commands (`properties`), the simulated market
//! around it (`market`), and the paper account an order is checked against (`account`).

mod account;
mod book;
mod market;
mod properties;

use miyagi_markets::{
    Book, Command, Event, Limits, NewOrder, OrderId, OrderKind, Owner, Price, Qty, Reject,
    SelfTrade, Side, TimeInForce,
};

pub const LIMITS: Limits = Limits {
    max_qty: Qty(1_000_000),
    max_price: Price(10_000_000),
};

pub const ALICE: Owner = Owner(1);
pub const BOB: Owner = Owner(2);
pub const CAROL: Owner = Owner(3);

pub fn limit(id: u64, owner: Owner, side: Side, price: i64, qty: u64, tif: TimeInForce) -> Command {
    Command::Place(NewOrder {
        id: OrderId(id),
        owner,
        side,
        qty: Qty(qty),
        kind: OrderKind::Limit {
            price: Price(price),
            tif,
        },
        self_trade: SelfTrade::default(),
    })
}

pub fn gtc(id: u64, owner: Owner, side: Side, price: i64, qty: u64) -> Command {
    limit(id, owner, side, price, qty, TimeInForce::Gtc)
}

pub fn market(id: u64, owner: Owner, side: Side, qty: u64) -> Command {
    Command::Place(NewOrder {
        id: OrderId(id),
        owner,
        side,
        qty: Qty(qty),
        kind: OrderKind::Market,
        self_trade: SelfTrade::default(),
    })
}

/// Runs commands that must all be accepted; returns the events of the last one.
pub fn run(book: &mut Book, commands: &[Command]) -> Vec<Event> {
    let mut events = Vec::new();
    for command in commands {
        events.clear();
        book.execute(command, &mut events)
            .unwrap_or_else(|reject| panic!("{command:?} was refused: {reject}"));
    }
    events
}

/// Runs one command that must be refused, and checks the book did not change.
pub fn refused(book: &mut Book, command: &Command) -> Reject {
    let before = book.snapshot();
    let mut events = Vec::new();
    let reject = book
        .execute(command, &mut events)
        .expect_err("the command should be refused");
    assert!(events.is_empty(), "a refused command reported {events:?}");
    assert_eq!(
        book.snapshot(),
        before,
        "a refused command changed the book"
    );
    reject
}

/// (maker, price, qty) of each trade among the events.
pub fn fills(events: &[Event]) -> Vec<(u64, i64, u64)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Trade(trade) => Some((trade.maker.0, trade.price.0, trade.qty.0)),
            _ => None,
        })
        .collect()
}
