//! The resting orders of one book, stored once: an arena (a slab, so a slot is reused and an
//! order never moves) and an index from order id to slot. Price levels thread their queues
//! through the arena's `prev`/`next` links, which is what makes a cancel O(1) once the order is
//! found, wherever it sits in its queue.

use rustc_hash::FxHashMap;
use slab::Slab;

use crate::command::SelfTrade;
use crate::units::{OrderId, Owner, Price, Qty, Side};

/// "No order": the end of a queue.
pub(super) const NIL: usize = usize::MAX;

#[derive(Debug, Clone)]
pub(super) struct Resting {
    pub id: OrderId,
    pub owner: Owner,
    pub side: Side,
    pub price: Price,
    pub open: Qty,
    /// Kept so a replace that moves the order still refuses to take liquidity.
    pub post_only: bool,
    /// Kept for when a replace makes the order trade on arrival.
    pub self_trade: SelfTrade,
    pub prev: usize,
    pub next: usize,
}

#[derive(Default)]
pub(super) struct Orders {
    arena: Slab<Resting>,
    // Lookups only, never iterated, so the hash map's order cannot leak into what the book does.
    by_id: FxHashMap<OrderId, usize>,
}

impl Orders {
    pub fn slot(&self, id: OrderId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    pub fn contains(&self, id: OrderId) -> bool {
        self.by_id.contains_key(&id)
    }

    pub fn insert(&mut self, order: Resting) -> usize {
        let id = order.id;
        let slot = self.arena.insert(order);
        self.by_id.insert(id, slot);
        slot
    }

    pub fn remove(&mut self, slot: usize) -> Resting {
        let order = self.arena.remove(slot);
        self.by_id.remove(&order.id);
        order
    }

    pub fn len(&self) -> usize {
        self.arena.len()
    }
}

impl std::ops::Index<usize> for Orders {
    type Output = Resting;
    fn index(&self, slot: usize) -> &Resting {
        &self.arena[slot]
    }
}

impl std::ops::IndexMut<usize> for Orders {
    fn index_mut(&mut self, slot: usize) -> &mut Resting {
        &mut self.arena[slot]
    }
}
