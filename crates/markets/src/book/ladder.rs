//! One side of a book: its price levels, best first, each a first-in first-out queue of orders.
//! That queue order is time priority; the level order is price priority.

use std::collections::BTreeMap;

use super::orders::{Orders, Resting, NIL};
use crate::units::{Price, Qty, Side};

pub(super) struct Ladder {
    side: Side,
    levels: BTreeMap<Price, Level>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Level {
    head: usize,
    tail: usize,
    pub open: Qty,
    pub orders: u32,
}

impl Ladder {
    pub fn new(side: Side) -> Self {
        Self {
            side,
            levels: BTreeMap::new(),
        }
    }

    /// The best price: the highest bid or the lowest offer.
    pub fn best_price(&self) -> Option<Price> {
        self.best().map(|(price, _)| price)
    }

    /// The oldest order at the best price: the next one an incoming order meets.
    pub fn front(&self) -> Option<usize> {
        self.best().map(|(_, level)| level.head)
    }

    fn best(&self) -> Option<(Price, &Level)> {
        let best = match self.side {
            Side::Buy => self.levels.last_key_value(),
            Side::Sell => self.levels.first_key_value(),
        };
        best.map(|(price, level)| (*price, level))
    }

    /// Levels from the best price outwards.
    pub fn levels(&self) -> Box<dyn Iterator<Item = (Price, &Level)> + '_> {
        let levels = self.levels.iter().map(|(price, level)| (*price, level));
        match self.side {
            Side::Buy => Box::new(levels.rev()),
            Side::Sell => Box::new(levels),
        }
    }

    /// Slots of one level's queue, oldest first.
    pub fn queue<'a>(&self, level: &Level, orders: &'a Orders) -> impl Iterator<Item = usize> + 'a {
        std::iter::successors(Some(level.head).filter(|&slot| slot != NIL), move |&slot| {
            Some(orders[slot].next).filter(|&next| next != NIL)
        })
    }

    /// Puts the order at the back of its price's queue.
    pub fn push_back(&mut self, orders: &mut Orders, order: Resting) -> usize {
        let (price, open) = (order.price, order.open);
        let slot = orders.insert(order);
        let level = self.levels.entry(price).or_insert(Level {
            head: NIL,
            tail: NIL,
            open: Qty::ZERO,
            orders: 0,
        });
        if level.tail == NIL {
            level.head = slot;
        } else {
            orders[level.tail].next = slot;
            orders[slot].prev = level.tail;
        }
        level.tail = slot;
        level.open += open;
        level.orders += 1;
        slot
    }

    /// Takes the order out of its queue and out of the book, wherever it stands.
    pub fn remove(&mut self, orders: &mut Orders, slot: usize) -> Resting {
        let order = orders.remove(slot);
        let level = self
            .levels
            .get_mut(&order.price)
            .expect("a resting order's level exists");
        if order.prev == NIL {
            level.head = order.next;
        } else {
            orders[order.prev].next = order.next;
        }
        if order.next == NIL {
            level.tail = order.prev;
        } else {
            orders[order.next].prev = order.prev;
        }
        level.open -= order.open;
        level.orders -= 1;
        if level.orders == 0 {
            self.levels.remove(&order.price);
        }
        order
    }

    /// Takes `qty` off a resting order in place (it keeps its place); an order left with nothing
    /// is removed, and returned.
    pub fn reduce(&mut self, orders: &mut Orders, slot: usize, qty: Qty) -> Option<Resting> {
        let order = &mut orders[slot];
        order.open -= qty;
        let (price, emptied) = (order.price, order.open.is_zero());
        self.levels
            .get_mut(&price)
            .expect("a resting order's level exists")
            .open -= qty;
        emptied.then(|| self.remove(orders, slot))
    }
}
