use miyagi_markets::{
    Book, CancelReason, Command, DepthLevel, Event, NewOrder, OrderId, Owner, Price, Qty, Reject,
    SelfTrade, Side, Snapshot, SnapshotError, TimeInForce,
};

use super::*;

#[test]
fn a_limit_order_that_does_not_cross_rests_at_its_price() {
    let mut book = Book::new(LIMITS);
    let events = run(&mut book, &[gtc(1, ALICE, Side::Buy, 100, 10)]);
    assert_eq!(
        events,
        vec![Event::Rested {
            id: OrderId(1),
            owner: ALICE,
            side: Side::Buy,
            price: Price(100),
            qty: Qty(10)
        }]
    );
    assert_eq!(book.best_bid(), Some(Price(100)));
    assert_eq!(book.best_ask(), None);
}

#[test]
fn an_incoming_order_trades_best_price_first_at_the_resting_price() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Sell, 102, 5),
            gtc(2, ALICE, Side::Sell, 101, 5),
        ],
    );
    let events = run(&mut book, &[gtc(3, BOB, Side::Buy, 105, 8)]);
    assert_eq!(fills(&events), vec![(2, 101, 5), (1, 102, 3)]);
    assert_eq!(book.best_ask(), Some(Price(102)));
    assert_eq!(book.order(OrderId(1)).unwrap().qty, Qty(2));
}

#[test]
fn orders_at_one_price_fill_oldest_first() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Buy, 100, 5),
            gtc(2, CAROL, Side::Buy, 100, 5),
        ],
    );
    let events = run(&mut book, &[gtc(3, BOB, Side::Sell, 100, 7)]);
    assert_eq!(fills(&events), vec![(1, 100, 5), (2, 100, 2)]);
}

#[test]
fn a_buy_never_pays_more_than_its_limit() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Sell, 100, 5),
            gtc(2, ALICE, Side::Sell, 103, 5),
        ],
    );
    let events = run(&mut book, &[gtc(3, BOB, Side::Buy, 101, 10)]);
    assert_eq!(fills(&events), vec![(1, 100, 5)]);
    assert!(events.contains(&Event::Rested {
        id: OrderId(3),
        owner: BOB,
        side: Side::Buy,
        price: Price(101),
        qty: Qty(5)
    }));
}

#[test]
fn a_market_order_takes_what_rests_and_cancels_the_rest() {
    let mut book = Book::new(LIMITS);
    run(&mut book, &[gtc(1, ALICE, Side::Sell, 100, 4)]);
    let events = run(&mut book, &[market(2, BOB, Side::Buy, 10)]);
    assert_eq!(fills(&events), vec![(1, 100, 4)]);
    assert_eq!(
        events.last(),
        Some(&Event::Cancelled {
            id: OrderId(2),
            owner: BOB,
            side: Side::Buy,
            qty: Qty(6),
            reason: CancelReason::Unfilled
        })
    );
    assert!(book.is_empty());
}

#[test]
fn an_immediate_or_cancel_order_never_rests() {
    let mut book = Book::new(LIMITS);
    let events = run(
        &mut book,
        &[limit(1, ALICE, Side::Buy, 100, 10, TimeInForce::Ioc)],
    );
    assert!(matches!(
        events[..],
        [Event::Cancelled {
            qty: Qty(10),
            reason: CancelReason::Unfilled,
            ..
        }]
    ));
    assert!(book.is_empty());
}

#[test]
fn a_fill_or_kill_order_that_cannot_fill_in_full_is_refused() {
    let mut book = Book::new(LIMITS);
    run(&mut book, &[gtc(1, ALICE, Side::Sell, 100, 4)]);
    let reject = refused(
        &mut book,
        &limit(2, BOB, Side::Buy, 100, 5, TimeInForce::Fok),
    );
    assert_eq!(reject, Reject::NotFillable);
}

#[test]
fn a_fill_or_kill_order_that_can_fill_trades_all_of_it() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Sell, 100, 4),
            gtc(2, CAROL, Side::Sell, 101, 4),
        ],
    );
    let events = run(
        &mut book,
        &[limit(3, BOB, Side::Buy, 101, 6, TimeInForce::Fok)],
    );
    assert_eq!(fills(&events), vec![(1, 100, 4), (2, 101, 2)]);
}

#[test]
fn a_post_only_order_that_would_trade_is_refused() {
    let mut book = Book::new(LIMITS);
    run(&mut book, &[gtc(1, ALICE, Side::Sell, 100, 4)]);
    let reject = refused(
        &mut book,
        &limit(2, BOB, Side::Buy, 100, 1, TimeInForce::PostOnly),
    );
    assert_eq!(reject, Reject::WouldTakeLiquidity);
    run(
        &mut book,
        &[limit(3, BOB, Side::Buy, 99, 1, TimeInForce::PostOnly)],
    );
    assert_eq!(book.best_bid(), Some(Price(99)));
}

#[test]
fn a_cancel_removes_what_is_left_of_the_order() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Sell, 100, 10),
            gtc(2, BOB, Side::Buy, 100, 3),
        ],
    );
    let events = run(
        &mut book,
        &[Command::Cancel {
            id: OrderId(1),
            owner: ALICE,
        }],
    );
    assert!(matches!(
        events[..],
        [Event::Cancelled {
            qty: Qty(7),
            reason: CancelReason::Requested,
            ..
        }]
    ));
    assert!(book.is_empty());
}

#[test]
fn nobody_can_cancel_or_replace_another_owners_order() {
    let mut book = Book::new(LIMITS);
    run(&mut book, &[gtc(1, ALICE, Side::Sell, 100, 10)]);
    let cancel = Command::Cancel {
        id: OrderId(1),
        owner: BOB,
    };
    let replace = Command::Replace {
        id: OrderId(1),
        owner: BOB,
        price: Price(90),
        qty: Qty(1),
    };
    // The same answer as for an order that does not exist: nothing is told about Alice's orders.
    assert_eq!(refused(&mut book, &cancel), Reject::UnknownOrder);
    assert_eq!(refused(&mut book, &replace), Reject::UnknownOrder);
}

#[test]
fn shrinking_an_order_at_its_price_keeps_its_place() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Buy, 100, 10),
            gtc(2, CAROL, Side::Buy, 100, 10),
        ],
    );
    let events = run(
        &mut book,
        &[Command::Replace {
            id: OrderId(1),
            owner: ALICE,
            price: Price(100),
            qty: Qty(4),
        }],
    );
    assert!(matches!(
        events[..],
        [Event::Replaced {
            qty: Qty(4),
            kept_priority: true,
            ..
        }]
    ));
    let events = run(&mut book, &[gtc(3, BOB, Side::Sell, 100, 5)]);
    assert_eq!(fills(&events), vec![(1, 100, 4), (2, 100, 1)]);
}

#[test]
fn growing_an_order_sends_it_to_the_back_of_its_price() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Buy, 100, 10),
            gtc(2, CAROL, Side::Buy, 100, 10),
            Command::Replace {
                id: OrderId(1),
                owner: ALICE,
                price: Price(100),
                qty: Qty(12),
            },
        ],
    );
    let events = run(&mut book, &[gtc(3, BOB, Side::Sell, 100, 12)]);
    assert_eq!(fills(&events), vec![(2, 100, 10), (1, 100, 2)]);
}

#[test]
fn a_replace_to_a_crossing_price_trades_at_once() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Sell, 105, 5),
            gtc(2, BOB, Side::Buy, 100, 8),
        ],
    );
    let events = run(
        &mut book,
        &[Command::Replace {
            id: OrderId(2),
            owner: BOB,
            price: Price(105),
            qty: Qty(8),
        }],
    );
    assert_eq!(fills(&events), vec![(1, 105, 5)]);
    assert_eq!(book.order(OrderId(2)).unwrap().qty, Qty(3));
    assert_eq!(book.best_bid(), Some(Price(105)));
}

#[test]
fn a_post_only_order_cannot_be_replaced_into_a_trade() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Sell, 105, 5),
            limit(2, BOB, Side::Buy, 100, 8, TimeInForce::PostOnly),
        ],
    );
    let replace = Command::Replace {
        id: OrderId(2),
        owner: BOB,
        price: Price(106),
        qty: Qty(8),
    };
    assert_eq!(refused(&mut book, &replace), Reject::WouldTakeLiquidity);
}

fn with_self_trade(command: Command, rule: SelfTrade) -> Command {
    match command {
        Command::Place(order) => Command::Place(NewOrder {
            self_trade: rule,
            ..order
        }),
        other => other,
    }
}

/// Alice rests 5 at 100, Bob 5 at 101; Alice buys 10 at 101 under `rule`.
fn self_trade(rule: SelfTrade) -> (Book, Vec<Event>) {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Sell, 100, 5),
            gtc(2, BOB, Side::Sell, 101, 5),
        ],
    );
    let events = run(
        &mut book,
        &[with_self_trade(gtc(3, ALICE, Side::Buy, 101, 10), rule)],
    );
    (book, events)
}

#[test]
fn self_trade_cancel_resting_removes_the_owners_order_and_trades_on() {
    let (book, events) = self_trade(SelfTrade::CancelResting);
    assert!(matches!(
        events[0],
        Event::Cancelled {
            id: OrderId(1),
            reason: CancelReason::SelfTrade,
            ..
        }
    ));
    assert_eq!(fills(&events), vec![(2, 101, 5)]);
    assert_eq!(book.order(OrderId(3)).unwrap().qty, Qty(5));
}

#[test]
fn self_trade_cancel_incoming_stops_the_new_order() {
    let (book, events) = self_trade(SelfTrade::CancelIncoming);
    assert!(fills(&events).is_empty());
    assert!(matches!(
        events[..],
        [Event::Cancelled {
            id: OrderId(3),
            qty: Qty(10),
            reason: CancelReason::SelfTrade,
            ..
        }]
    ));
    assert_eq!(book.order(OrderId(1)).unwrap().qty, Qty(5));
}

#[test]
fn self_trade_cancel_both_removes_both_orders() {
    let (book, events) = self_trade(SelfTrade::CancelBoth);
    assert!(fills(&events).is_empty());
    assert_eq!(events.len(), 2);
    assert!(book.order(OrderId(1)).is_none());
    assert!(book.order(OrderId(3)).is_none());
    assert_eq!(book.order(OrderId(2)).unwrap().qty, Qty(5));
}

#[test]
fn a_halted_book_refuses_orders_and_replaces_but_takes_cancels() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[gtc(1, ALICE, Side::Buy, 100, 5), Command::Halt],
    );
    assert!(book.is_halted());
    assert_eq!(
        refused(&mut book, &gtc(2, BOB, Side::Sell, 100, 5)),
        Reject::Halted
    );
    let replace = Command::Replace {
        id: OrderId(1),
        owner: ALICE,
        price: Price(101),
        qty: Qty(5),
    };
    assert_eq!(refused(&mut book, &replace), Reject::Halted);
    run(
        &mut book,
        &[
            Command::Cancel {
                id: OrderId(1),
                owner: ALICE,
            },
            Command::Resume,
        ],
    );
    run(&mut book, &[gtc(2, BOB, Side::Sell, 100, 5)]);
    assert_eq!(book.best_ask(), Some(Price(100)));
}

#[test]
fn bad_orders_are_refused_with_the_reason() {
    let mut book = Book::new(LIMITS);
    run(&mut book, &[gtc(1, ALICE, Side::Buy, 100, 5)]);
    let cases = [
        (gtc(2, BOB, Side::Buy, 100, 0), Reject::ZeroQuantity),
        (market(2, BOB, Side::Buy, 0), Reject::ZeroQuantity),
        (gtc(2, BOB, Side::Buy, 0, 5), Reject::PriceNotPositive),
        (gtc(2, BOB, Side::Buy, -5, 5), Reject::PriceNotPositive),
        (
            gtc(2, BOB, Side::Buy, 100, 1_000_001),
            Reject::QuantityTooLarge {
                max: LIMITS.max_qty,
            },
        ),
        (
            gtc(2, BOB, Side::Buy, 10_000_001, 5),
            Reject::PriceTooHigh {
                max: LIMITS.max_price,
            },
        ),
        (gtc(1, BOB, Side::Sell, 200, 5), Reject::DuplicateOrderId),
        (
            Command::Cancel {
                id: OrderId(9),
                owner: ALICE,
            },
            Reject::UnknownOrder,
        ),
        (
            Command::Replace {
                id: OrderId(1),
                owner: ALICE,
                price: Price(100),
                qty: Qty(0),
            },
            Reject::ZeroQuantity,
        ),
    ];
    for (command, reason) in cases {
        assert_eq!(refused(&mut book, &command), reason, "{command:?}");
    }
}

#[test]
fn depth_shows_each_price_with_its_quantity_and_order_count() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Buy, 99, 5),
            gtc(2, BOB, Side::Buy, 100, 3),
            gtc(3, CAROL, Side::Buy, 100, 4),
            gtc(4, ALICE, Side::Sell, 103, 1),
        ],
    );
    let depth = book.depth(10);
    let level = |price, qty, orders| DepthLevel {
        price: Price(price),
        qty: Qty(qty),
        orders,
    };
    assert_eq!(depth.bids, vec![level(100, 7, 2), level(99, 5, 1)]);
    assert_eq!(depth.asks, vec![level(103, 1, 1)]);
    assert_eq!(book.depth(1).bids, vec![level(100, 7, 2)]);
}

#[test]
fn a_restored_snapshot_is_the_same_book() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Buy, 100, 5),
            gtc(2, BOB, Side::Buy, 100, 3),
            gtc(3, CAROL, Side::Sell, 101, 4),
            gtc(4, BOB, Side::Buy, 101, 1),
        ],
    );
    let snapshot = book.snapshot();
    let mut restored = Book::restore(&snapshot).unwrap();
    assert_eq!(restored.snapshot(), snapshot);
    // The next trade is numbered on from the original's.
    let next = [gtc(5, BOB, Side::Buy, 101, 1)];
    let (a, b) = (run(&mut book, &next), run(&mut restored, &next));
    assert_eq!(a, b);
}

#[test]
fn a_snapshot_that_cannot_be_a_book_is_refused() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Buy, 100, 5),
            gtc(2, BOB, Side::Buy, 99, 3),
            gtc(3, CAROL, Side::Sell, 101, 4),
        ],
    );
    let good = book.snapshot();
    let edit = |change: fn(&mut Snapshot)| {
        let mut snapshot = good.clone();
        change(&mut snapshot);
        Book::restore(&snapshot).err()
    };
    assert_eq!(
        edit(|s| s.bids.swap(0, 1)),
        Some(SnapshotError::OutOfOrder(OrderId(1)))
    );
    assert_eq!(
        edit(|s| s.asks[0].price = Price(100)),
        Some(SnapshotError::Crossed)
    );
    assert_eq!(
        edit(|s| s.asks[0].id = OrderId(1)),
        Some(SnapshotError::DuplicateOrder(OrderId(1)))
    );
    assert_eq!(
        edit(|s| s.asks[0].qty = Qty(0)),
        Some(SnapshotError::OutOfLimits(OrderId(3)))
    );
    assert_eq!(
        edit(|s| s.asks[0].side = Side::Buy),
        Some(SnapshotError::WrongSide(OrderId(3)))
    );
}

#[test]
fn commands_and_events_read_as_plain_json() {
    let command = limit(7, Owner(42), Side::Buy, 12_345, 10, TimeInForce::PostOnly);
    let json = serde_json::to_value(&command).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"command": "place", "id": 7, "owner": 42, "side": "buy", "qty": 10,
            "type": "limit", "price": 12345, "timeInForce": "postOnly", "selfTrade": "cancelResting"})
    );
    assert_eq!(serde_json::from_value::<Command>(json).unwrap(), command);
    let mut book = Book::new(LIMITS);
    let reject = book
        .execute(&market(1, ALICE, Side::Buy, 0), &mut Vec::new())
        .unwrap_err();
    assert_eq!(
        serde_json::to_value(reject).unwrap(),
        serde_json::json!({"reason": "zeroQuantity"})
    );
}

#[test]
fn a_fill_or_kill_order_stopped_by_its_owners_order_is_refused() {
    let mut book = Book::new(LIMITS);
    run(
        &mut book,
        &[
            gtc(1, ALICE, Side::Sell, 100, 5),
            gtc(2, BOB, Side::Sell, 101, 5),
        ],
    );
    let fok = with_self_trade(
        limit(3, ALICE, Side::Buy, 101, 5, TimeInForce::Fok),
        SelfTrade::CancelIncoming,
    );
    assert_eq!(refused(&mut book, &fok), Reject::NotFillable);
}
