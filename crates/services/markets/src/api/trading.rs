//! A person's orders, positions and account. An order is recorded and journaled for the engine
//! in one transaction, then the request waits a moment for the engine's answer, so a rejected
//! order answers with its reason and a marketable one with its fills.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use miyagi_domain::agents::OrdersApproved;
use miyagi_markets::Price;
use miyagi_platform::{
    auth::Principal,
    http::{Problem, ValidJson},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{field, Api};
use crate::model::{
    cents, dollars, Order, OrderRecord, OrderSide, OrderStatus, OrderTimeInForce, OrderType,
    Request,
};
use crate::store;

const TAG: &str = "trading";

/// How long a request waits for the engine before answering with the order as received.
const PATIENCE: Duration = Duration::from_secs(3);

/// The highest price an order may carry, in dollars.
const MAX_PRICE: f64 = 1_000_000.0;

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceOrder {
    /// One of `/api/v1/markets/symbols` (read in any case).
    #[schema(schema_with = super::market::traded_symbol)]
    pub symbol: String,
    pub side: OrderSide,
    #[serde(rename = "type")]
    pub kind: OrderType,
    /// Shares: at least 1, at most `markets.max_order_shares` (100,000 by default).
    #[schema(minimum = 1, maximum = 100000)]
    #[validate(range(min = 1, message = "must be at least 1 share"))]
    pub qty: u64,
    /// Dollars, a whole number of cents, for a limit order; a market order has none.
    #[schema(minimum = 0.01, maximum = 1000000, multiple_of = 0.01)]
    pub price: Option<f64>,
    /// For a limit order (default `gtc`); a market order has none.
    pub time_in_force: Option<OrderTimeInForce>,
}

impl PlaceOrder {
    pub(crate) fn market(symbol: &str, side: OrderSide, qty: u64) -> Self {
        Self {
            symbol: symbol.to_string(),
            side,
            kind: OrderType::Market,
            qty,
            price: None,
            time_in_force: None,
        }
    }

    pub(crate) fn check(self, api: &Api, owner: &str) -> Result<OrderRecord, Problem> {
        let mut errors = Vec::new();
        let symbol = self.symbol.to_ascii_uppercase();
        if api.history.closes(&symbol).is_none() {
            errors.push(field(
                "symbol",
                format!(
                    "{} is not traded here; see /api/v1/markets/symbols",
                    self.symbol
                ),
            ));
        }
        check_qty(api, self.qty, &mut errors);
        let price = match (self.kind, self.price) {
            (OrderType::Limit, None) => {
                errors.push(field("price", "a limit order needs a price"));
                None
            }
            (OrderType::Limit, Some(price)) => check_price(price, &mut errors),
            (OrderType::Market, Some(_)) => {
                errors.push(field(
                    "price",
                    "a market order takes no price; use a limit order to name one",
                ));
                None
            }
            (OrderType::Market, None) => None,
        };
        if self.kind == OrderType::Market && self.time_in_force.is_some() {
            errors.push(field(
                "timeInForce",
                "a market order trades at once and cancels the rest; time in force is for limit orders",
            ));
        }
        if !errors.is_empty() {
            return Err(Problem::invalid_fields(errors));
        }
        let tif = self.time_in_force.unwrap_or(match self.kind {
            OrderType::Limit => OrderTimeInForce::Gtc,
            OrderType::Market => OrderTimeInForce::Ioc,
        });
        Ok(store::received(
            owner, symbol, self.side, self.kind, tif, price, self.qty,
        ))
    }
}

/// The size limit is config's, so it is checked here rather than by `Validate`.
fn check_qty(api: &Api, qty: u64, errors: &mut Vec<super::FieldError>) {
    let max = api.settings.risk.max_order_qty.0;
    if qty > max {
        errors.push(field("qty", format!("must be at most {max} shares")));
    }
}

fn check_price(price: f64, errors: &mut Vec<super::FieldError>) -> Option<i64> {
    match cents(price) {
        Some(cents) if cents > 0 && price <= MAX_PRICE => Some(cents),
        Some(_) => {
            errors.push(field(
                "price",
                format!("must be more than 0 and at most {MAX_PRICE} dollars"),
            ));
            None
        }
        None => {
            errors.push(field(
                "price",
                "must be a whole number of cents, such as 101.25",
            ));
            None
        }
    }
}

/// Place an order. It is checked against your account (buying power, shares held, position
/// limit) and against the price band around the last trade, then matched. Answers 201 with the
/// order as the engine left it (open, filled or cancelled), 422 with the reason if it was
/// rejected, or 202 if the engine has not taken it yet.
#[utoipa::path(post, path = "/api/v1/orders", operation_id = "place_order", tag = TAG, request_body = PlaceOrder,
    responses((status = 201, body = Order, headers(("Location"))), (status = 202, body = Order),
              (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn place(
    State(api): State<Api>,
    principal: Principal,
    ValidJson(body): ValidJson<PlaceOrder>,
) -> Result<Response, Problem> {
    let order = body.check(&api, &principal.user_id)?;
    api.store.place(&order).await?;
    let order = api
        .engine_answer(&principal.user_id, order.id, 0)
        .await?
        .unwrap_or(order);
    if order.status == OrderStatus::Rejected {
        return Err(rejected(&order));
    }
    let status = if order.status == OrderStatus::Received {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    };
    let mut response = (status, Json(Order::from(&order))).into_response();
    let location = format!("/api/v1/orders/{}", order.id);
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("ascii path"),
    );
    Ok(response)
}

impl Api {
    /// The order once the engine has changed it past `revision`, or as it is after `PATIENCE`.
    /// The engine runs in this process and publishes its market view after every write, so each
    /// publication is the moment to look again (no polling interval to wait out).
    async fn engine_answer(
        &self,
        owner: &str,
        id: Uuid,
        revision: i64,
    ) -> Result<Option<OrderRecord>, sqlx::Error> {
        let mut written = self.view.clone();
        written.borrow_and_update();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let order = self.store.order(owner, id).await?;
            if order.as_ref().is_none_or(|order| order.revision > revision) {
                return Ok(order);
            }
            match tokio::time::timeout_at(deadline, written.changed()).await {
                Ok(Ok(())) => continue,
                // Out of patience, or the engine has stopped: the order as it is.
                _ => return Ok(order),
            }
        }
    }
}

fn rejected(order: &OrderRecord) -> Problem {
    let reason = order.reason.as_deref().unwrap_or("refused");
    let mut problem = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("order {} was rejected: {reason}", order.id),
    );
    problem.type_uri = "https://miyagi.dev/problems/order-rejected".into();
    problem
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only orders with this status.
    status: Option<OrderStatus>,
    /// How many, newest first: 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Your orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", operation_id = "list_orders", tag = TAG, params(ListQuery),
    responses((status = 200, body = [Order]), (status = 422, body = Problem)))]
pub async fn list(
    State(api): State<Api>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Order>>, Problem> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::invalid_fields(vec![field(
            "limit",
            "must be from 1 to 500",
        )]));
    }
    let orders = api
        .store
        .orders(&principal.user_id, query.status, limit)
        .await?;
    Ok(Json(orders.iter().map(Order::from).collect()))
}

/// One of your orders.
#[utoipa::path(get, path = "/api/v1/orders/{id}", operation_id = "get_order", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Order), (status = 404, body = Problem)))]
pub async fn get(
    State(api): State<Api>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Order>, Problem> {
    Ok(Json(Order::from(&owned(&api, &principal, id).await?)))
}

async fn owned(api: &Api, principal: &Principal, id: Uuid) -> Result<OrderRecord, Problem> {
    api.store
        .order(&principal.user_id, id)
        .await?
        .ok_or_else(|| Problem::not_found("order"))
}

/// An order that can no longer change answers 409 with what became of it.
fn still_changeable(order: &OrderRecord) -> Result<(), Problem> {
    if order.status.is_final() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("the order is already {}", order.status.as_str()),
        ));
    }
    Ok(())
}

/// Cancel what is left of one of your orders. Answers with the order once the engine has taken
/// the cancel (200), or 202 if it has not yet.
#[utoipa::path(delete, path = "/api/v1/orders/{id}", operation_id = "cancel_order", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Order), (status = 202, body = Order), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub async fn cancel(
    State(api): State<Api>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, Problem> {
    let order = owned(&api, &principal, id).await?;
    still_changeable(&order)?;
    api.store
        .request(&Request::Cancel {
            id,
            owner: order.owner.clone(),
            symbol: order.symbol.clone(),
        })
        .await?;
    answer_change(&api, &principal, order).await
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplaceOrder {
    /// The new limit price, dollars.
    #[schema(minimum = 0.01, maximum = 1000000, multiple_of = 0.01)]
    pub price: f64,
    /// The shares still to fill. Less at the same price keeps the order's place in the queue;
    /// more, or a new price, sends it to the back.
    #[schema(minimum = 1, maximum = 100000)]
    #[validate(range(min = 1, message = "must be at least 1 share"))]
    pub qty: u64,
}

/// Change the price or size of one of your open limit orders. Answers with the order once the
/// engine has taken the change (200), 422 with the reason if it refused it, or 202 if it has
/// not yet.
#[utoipa::path(patch, path = "/api/v1/orders/{id}", operation_id = "replace_order", tag = TAG, params(("id" = Uuid, Path)), request_body = ReplaceOrder,
    responses((status = 200, body = Order), (status = 202, body = Order), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn replace(
    State(api): State<Api>,
    principal: Principal,
    Path(id): Path<Uuid>,
    ValidJson(body): ValidJson<ReplaceOrder>,
) -> Result<Response, Problem> {
    let mut errors = Vec::new();
    check_qty(&api, body.qty, &mut errors);
    let price = check_price(body.price, &mut errors);
    let (Some(price), true) = (price, errors.is_empty()) else {
        return Err(Problem::invalid_fields(errors));
    };
    let order = owned(&api, &principal, id).await?;
    still_changeable(&order)?;
    if order.kind == OrderType::Market {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "a market order cannot be changed",
        ));
    }
    api.store
        .request(&Request::Replace {
            id,
            owner: order.owner.clone(),
            symbol: order.symbol.clone(),
            price,
            qty: body.qty,
        })
        .await?;
    answer_change(&api, &principal, order).await
}

async fn answer_change(
    api: &Api,
    principal: &Principal,
    before: OrderRecord,
) -> Result<Response, Problem> {
    let after = api
        .engine_answer(&principal.user_id, before.id, before.revision)
        .await?
        .ok_or_else(|| Problem::not_found("order"))?;
    if after.revision == before.revision {
        return Ok((StatusCode::ACCEPTED, Json(Order::from(&after))).into_response());
    }
    if let Some(reason) = after
        .reason
        .as_deref()
        .filter(|r| r.starts_with("the change was refused"))
    {
        if after.status == OrderStatus::Open {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                reason.to_string(),
            ));
        }
    }
    Ok(Json(Order::from(&after)).into_response())
}

/// A holding, valued at the last trade (or the middle of the book before any trade).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PositionView {
    pub symbol: String,
    pub shares: u64,
    /// Dollars a share, fees included.
    pub average_cost: Option<f64>,
    pub market_price: f64,
    pub market_value: f64,
    pub unrealised: f64,
    /// Dollars made or lost on shares already sold, after fees.
    pub realised: f64,
}

/// Your holdings.
#[utoipa::path(get, path = "/api/v1/positions", tag = TAG, responses((status = 200, body = [PositionView])))]
pub async fn positions(
    State(api): State<Api>,
    principal: Principal,
) -> Result<Json<Vec<PositionView>>, Problem> {
    let Some(held) = api.store.account(&principal.user_id).await? else {
        return Ok(Json(Vec::new()));
    };
    let marks = marks(&api);
    Ok(Json(
        held.account
            .positions
            .iter()
            .map(|(symbol, position)| {
                let mark = marks.get(symbol).copied().unwrap_or(Price(0));
                PositionView {
                    symbol: symbol.clone(),
                    shares: position.shares,
                    average_cost: position
                        .average_cost()
                        .map(|cents| (cents / 100.0 * 10_000.0).round() / 10_000.0),
                    market_price: dollars(mark.0),
                    market_value: dollars(mark.0 * position.shares as i64),
                    unrealised: dollars(position.unrealised(mark)),
                    realised: dollars(position.realised),
                }
            })
            .collect(),
    ))
}

fn marks(api: &Api) -> BTreeMap<String, Price> {
    api.view
        .borrow()
        .quotes
        .iter()
        .map(|quote| {
            let mark = quote.last.or(match (quote.bid, quote.ask) {
                (Some(bid), Some(ask)) => Some((bid + ask) / 2),
                _ => None,
            });
            (
                quote.symbol.clone(),
                Price(mark.unwrap_or(quote.previous_close)),
            )
        })
        .collect()
}

/// A paper account, in dollars.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// Whether the account exists yet: it opens with your first order.
    pub opened: bool,
    pub starting_cash: f64,
    pub cash: f64,
    /// Cash not held back by open buy orders.
    pub buying_power: f64,
    pub market_value: f64,
    /// Cash plus holdings at market prices.
    pub equity: f64,
    pub unrealised: f64,
    pub realised: f64,
    pub fees_paid: f64,
    pub open_orders: usize,
}

/// Your paper account.
#[utoipa::path(get, path = "/api/v1/account", tag = TAG, responses((status = 200, body = AccountView)))]
pub async fn account(
    State(api): State<Api>,
    principal: Principal,
) -> Result<Json<AccountView>, Problem> {
    let starting = api.settings.starting_cash;
    let Some(held) = api.store.account(&principal.user_id).await? else {
        return Ok(Json(AccountView {
            opened: false,
            starting_cash: dollars(starting),
            cash: dollars(starting),
            buying_power: dollars(starting),
            market_value: 0.0,
            equity: dollars(starting),
            unrealised: 0.0,
            realised: 0.0,
            fees_paid: 0.0,
            open_orders: 0,
        }));
    };
    let marks = marks(&api);
    let account = &held.account;
    let mark = |symbol: &str| marks.get(symbol).copied().unwrap_or(Price(0));
    let market_value: i64 = account
        .positions
        .iter()
        .map(|(s, p)| mark(s).0 * p.shares as i64)
        .sum();
    Ok(Json(AccountView {
        opened: true,
        starting_cash: dollars(starting),
        cash: dollars(account.cash),
        buying_power: dollars(account.buying_power(api.settings.fees)),
        market_value: dollars(market_value),
        equity: dollars(account.cash + market_value),
        unrealised: dollars(
            account
                .positions
                .iter()
                .map(|(s, p)| p.unrealised(mark(s)))
                .sum(),
        ),
        realised: dollars(account.positions.values().map(|p| p.realised).sum()),
        fees_paid: dollars(account.fees_paid),
        open_orders: account.open_orders.len(),
    }))
}

/// Places the market orders a person approved in an agent run, each under the id the run gave
/// it, so a redelivered approval places nothing twice. An order the checks refuse is recorded
/// as rejected, with the reason, and its owner told like any other order's.
pub(crate) async fn place_approved(
    api: &Api,
    approved: &OrdersApproved,
) -> Result<(), sqlx::Error> {
    for wanted in &approved.orders {
        let side = if wanted.side == "sell" {
            OrderSide::Sell
        } else {
            OrderSide::Buy
        };
        match PlaceOrder::market(&wanted.symbol, side, wanted.qty).check(api, &approved.owner) {
            Ok(mut order) => {
                order.id = wanted.id;
                api.store.place(&order).await?;
            }
            Err(problem) => {
                let mut order = store::received(
                    &approved.owner,
                    wanted.symbol.to_ascii_uppercase(),
                    side,
                    OrderType::Market,
                    OrderTimeInForce::Ioc,
                    None,
                    wanted.qty,
                );
                order.id = wanted.id;
                order.status = OrderStatus::Rejected;
                order.reason = Some(
                    problem
                        .errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
                api.store.refuse(&order).await?;
            }
        }
    }
    Ok(())
}
