//! People's orders resting in the books, found by their id in a book (what a book's events
//! name) or by their own id (what a person's cancel or replace names).

use std::collections::HashMap;

use uuid::Uuid;

use crate::model::OrderRecord;

#[derive(Default)]
pub struct OpenOrders {
    by_number: HashMap<u64, OrderRecord>,
    numbers: HashMap<Uuid, u64>,
}

impl OpenOrders {
    pub fn insert(&mut self, number: u64, order: OrderRecord) {
        self.numbers.insert(order.id, number);
        self.by_number.insert(number, order);
    }

    pub fn remove(&mut self, number: u64) -> Option<OrderRecord> {
        let order = self.by_number.remove(&number)?;
        self.numbers.remove(&order.id);
        Some(order)
    }

    pub fn get(&self, number: u64) -> Option<&OrderRecord> {
        self.by_number.get(&number)
    }

    pub fn get_mut(&mut self, number: u64) -> Option<&mut OrderRecord> {
        self.by_number.get_mut(&number)
    }

    /// The book id of `owner`'s order `id`; another person's order is not found.
    pub fn number_of(&self, id: Uuid, owner: &str) -> Option<u64> {
        let number = *self.numbers.get(&id)?;
        (self.by_number[&number].owner == owner).then_some(number)
    }

    /// The ids of `owner`'s open orders.
    pub fn of_owner(&self, owner: &str) -> Vec<Uuid> {
        self.by_number
            .values()
            .filter(|order| order.owner == owner)
            .map(|order| order.id)
            .collect()
    }
}

impl FromIterator<(u64, OrderRecord)> for OpenOrders {
    fn from_iter<I: IntoIterator<Item = (u64, OrderRecord)>>(orders: I) -> Self {
        let mut open = OpenOrders::default();
        for (number, order) in orders {
            open.insert(number, order);
        }
        open
    }
}
