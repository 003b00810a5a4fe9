//! A paper account: what an order reserves, what a fill does, and what is refused before any
//! order reaches a book.

use miyagi_markets::account::{Account, Fees, OrderTicket, RiskLimits, RiskReject};
use miyagi_markets::{OrderId, Price, Qty, Side};

const FEES: Fees = Fees {
    per_share_millicents: 500,
};
const LIMITS: RiskLimits = RiskLimits {
    price_band_bps: 1_000,
    max_order_qty: Qty(10_000),
    max_position: Qty(20_000),
};
/// The price the band is measured from: $100.00.
const REFERENCE: Price = Price(10_000);

fn ticket(id: u64, side: Side, qty: u64, cents: i64) -> OrderTicket {
    OrderTicket {
        id: OrderId(id),
        symbol: "MSFT".into(),
        side,
        qty: Qty(qty),
        price: Price(cents),
    }
}

fn open(account: &mut Account, ticket: &OrderTicket) -> Result<(), RiskReject> {
    account.open(ticket, REFERENCE, &LIMITS, FEES)
}

/// 100 MSFT bought at $100.00 (plus a 50¢ fee), and $10,000.00 left.
fn holding_100() -> Account {
    let mut account = Account::with_cash(2_000_050);
    open(&mut account, &ticket(1, Side::Buy, 100, 10_000)).unwrap();
    account.fill(OrderId(1), Price(10_000), Qty(100), FEES);
    account
}

#[test]
fn a_fill_moves_cash_and_shares_and_pays_the_fee() {
    let account = holding_100();
    assert_eq!(account.cash, 1_000_000);
    assert_eq!(account.fees_paid, 50);
    let position = &account.positions["MSFT"];
    assert_eq!(position.shares, 100);
    assert_eq!(position.average_cost(), Some(10_000.5));
    assert!(account.open_orders.is_empty());
}

#[test]
fn an_open_buy_holds_its_cost_so_a_second_cannot_spend_it_again() {
    let mut account = Account::with_cash(100_000);
    open(&mut account, &ticket(1, Side::Buy, 9, 10_000)).unwrap();
    assert_eq!(account.buying_power(FEES), 100_000 - 90_000 - 5);
    let reject = open(&mut account, &ticket(2, Side::Buy, 1, 10_000)).unwrap_err();
    assert_eq!(
        reject,
        RiskReject::InsufficientFunds {
            needed: 10_001,
            available: 9_995
        }
    );
}

#[test]
fn a_fill_below_the_limit_frees_the_difference() {
    let mut account = Account::with_cash(100_000);
    open(&mut account, &ticket(1, Side::Buy, 9, 10_000)).unwrap();
    account.fill(OrderId(1), Price(9_900), Qty(9), FEES);
    assert_eq!(account.cash, 100_000 - 89_100 - 5);
    assert_eq!(account.buying_power(FEES), account.cash);
}

#[test]
fn a_cancel_releases_what_the_order_held() {
    let mut account = Account::with_cash(100_000);
    open(&mut account, &ticket(1, Side::Buy, 9, 10_000)).unwrap();
    account.fill(OrderId(1), Price(10_000), Qty(4), FEES);
    account.close(OrderId(1));
    assert_eq!(account.buying_power(FEES), account.cash);
    assert_eq!(account.positions["MSFT"].shares, 4);
}

#[test]
fn fees_of_partial_fills_add_up_to_the_fee_of_the_whole_order() {
    let mut account = Account::with_cash(1_000_000);
    open(&mut account, &ticket(1, Side::Buy, 99, 10_000)).unwrap();
    for _ in 0..99 {
        account.fill(OrderId(1), Price(10_000), Qty(1), FEES);
    }
    // 99 shares at half a cent: 49.5¢, rounded up once, not 99 times.
    assert_eq!(account.fees_paid, 50);
}

#[test]
fn selling_part_of_a_position_realises_profit_against_the_average_cost() {
    let mut account = holding_100();
    open(&mut account, &ticket(2, Side::Sell, 40, 11_000)).unwrap();
    account.fill(OrderId(2), Price(11_000), Qty(40), FEES);
    let position = &account.positions["MSFT"];
    assert_eq!(position.shares, 60);
    // Sold for $4,400.00 less a 20¢ fee; those 40 shares cost $4,000.20 of the $10,000.50.
    assert_eq!(position.realised, 440_000 - 20 - 400_020);
    assert_eq!(position.cost, 1_000_050 - 400_020);
    assert_eq!(position.unrealised(Price(10_500)), 60 * 10_500 - 600_030);
    assert_eq!(account.cash, 1_000_000 + 440_000 - 20);
}

#[test]
fn a_sell_needs_shares_that_are_held_and_not_already_offered() {
    let mut account = holding_100();
    open(&mut account, &ticket(2, Side::Sell, 70, 10_100)).unwrap();
    let reject = open(&mut account, &ticket(3, Side::Sell, 31, 10_100)).unwrap_err();
    assert_eq!(
        reject,
        RiskReject::InsufficientShares {
            wanted: Qty(31),
            free: Qty(30)
        }
    );
    let reject = open(
        &mut Account::with_cash(1_000_000),
        &ticket(4, Side::Sell, 1, 10_000),
    )
    .unwrap_err();
    assert!(
        matches!(reject, RiskReject::InsufficientShares { .. }),
        "no short selling"
    );
}

#[test]
fn a_price_far_from_the_reference_is_taken_for_a_typo() {
    let mut account = Account::with_cash(100_000_000);
    let reject = open(&mut account, &ticket(1, Side::Buy, 1, 100_000)).unwrap_err();
    assert_eq!(
        reject,
        RiskReject::OutsidePriceBand {
            band_bps: 1_000,
            low: 9_000,
            high: 11_000
        }
    );
    assert!(open(&mut account, &ticket(2, Side::Buy, 1, 11_000)).is_ok());
    assert!(
        account.open_orders.len() == 1,
        "a refused order holds nothing"
    );
}

#[test]
fn an_order_above_the_size_limit_is_refused() {
    let mut account = Account::with_cash(i64::MAX / 4);
    let reject = open(&mut account, &ticket(1, Side::Buy, 10_001, 10_000)).unwrap_err();
    assert_eq!(
        reject,
        RiskReject::OrderTooLarge {
            qty: Qty(10_001),
            max: Qty(10_000)
        }
    );
}

#[test]
fn the_position_limit_counts_shares_held_and_open_buys() {
    let mut account = Account::with_cash(i64::MAX / 4);
    open(&mut account, &ticket(1, Side::Buy, 10_000, 10_000)).unwrap();
    account.fill(OrderId(1), Price(10_000), Qty(10_000), FEES);
    open(&mut account, &ticket(2, Side::Buy, 9_000, 10_000)).unwrap();
    let reject = open(&mut account, &ticket(3, Side::Buy, 1_001, 10_000)).unwrap_err();
    assert_eq!(
        reject,
        RiskReject::PositionLimit {
            would_hold: Qty(20_001),
            max: Qty(20_000)
        }
    );
}

#[test]
fn refusals_read_as_sentences() {
    let reject = RiskReject::InsufficientFunds {
        needed: 10_001,
        available: 9_995,
    };
    assert_eq!(
        reject.to_string(),
        "the order needs 10001¢ and 9995¢ is free to spend"
    );
}
