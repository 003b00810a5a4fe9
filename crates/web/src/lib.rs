//! The web UI: a dashboard over the other services' APIs.
//!
//! - The pages are static files (`assets/`: HTML, CSS, JavaScript modules, hand-written SVG
//!   charts) embedded in the binary at compile time, so `miyagi up` needs no build step or
//!   network; they hold no data and are served without credentials.
//! - Every number they show comes from the API, called with the visitor's credentials.
//! - `GET /api/v1/events/stream` is what makes the dashboard live: server-sent events carrying
//!   the caller's own events (their recent ones first), as this service's consumer group reads
//!   them off the log.
//! - `GET /api/v1/system` says which services, bus and models this process runs.

use std::{
    collections::{HashSet, VecDeque},
    convert::Infallible,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        Html, IntoResponse, Response,
    },
    routing::get,
    Json, Router,
};
use futures::{stream, Stream, StreamExt};
use include_dir::{include_dir, Dir};
use miyagi_domain::events::topics;
use miyagi_platform::{
    auth::Principal,
    db::Db,
    events::{CloudEvent, Consumer, EventHandler, HandlerError},
    Service,
};
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub const NAME: &str = "web";

static ASSETS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// Events kept for replay to a page that connects; a person sees their share of them.
const KEPT: usize = 1000;
/// Recent events sent to a page when it connects.
const REPLAYED: usize = 50;

/// What this process runs, for the System page.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemInfo {
    pub services: Vec<String>,
    /// `embedded` or `kafka`.
    pub bus: String,
    /// The chat model's id, when one is loaded.
    pub chat_model: Option<String>,
    /// The embedding model's id, when one is loaded.
    pub embedding_model: Option<String>,
    pub version: String,
}

/// Recent events and the live ones, fanned out to every open page.
pub struct LiveFeed {
    recent: Mutex<VecDeque<Arc<CloudEvent>>>,
    live: broadcast::Sender<Arc<CloudEvent>>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        Self {
            recent: Mutex::new(VecDeque::with_capacity(KEPT)),
            live: broadcast::channel(256).0,
        }
    }
}

impl LiveFeed {
    pub fn push(&self, event: CloudEvent) {
        let event = Arc::new(event);
        {
            let mut recent = self.recent.lock().expect("feed lock");
            if recent.len() == KEPT {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        // No open page is not an error.
        let _ = self.live.send(event);
    }

    /// The owner's recent events, oldest first, then their live ones as they come.
    pub fn follow(&self, owner: String) -> impl Stream<Item = Arc<CloudEvent>> + Send + 'static {
        // Subscribe before the snapshot, so nothing falls between the two; skip what both hold.
        let live = self.live.subscribe();
        let recent: Vec<Arc<CloudEvent>> = {
            let recent = self.recent.lock().expect("feed lock");
            let mine: Vec<_> = recent
                .iter()
                .filter(|e| owned_by(e, &owner))
                .cloned()
                .collect();
            mine[mine.len().saturating_sub(REPLAYED)..].to_vec()
        };
        let replayed: HashSet<String> = recent.iter().map(|e| e.id.clone()).collect();
        let live = stream::unfold(live, |mut live| async move {
            loop {
                match live.recv().await {
                    Ok(event) => return Some((event, live)),
                    // A page too slow to keep up misses some events, not the stream.
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "live feed lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .filter(move |e| {
            let keep = owned_by(e, &owner) && !replayed.contains(&e.id);
            async move { keep }
        });
        stream::iter(recent).chain(live)
    }
}

/// Every Miyagi event names its owner in `data.owner`; one without an owner is shown to nobody.
fn owned_by(event: &CloudEvent, owner: &str) -> bool {
    event.data.get("owner").and_then(|o| o.as_str()) == Some(owner)
}

pub struct WebService {
    feed: Arc<LiveFeed>,
    system: SystemInfo,
    group: String,
}

impl WebService {
    pub fn new(system: SystemInfo) -> Self {
        // Each replica must see every event, so each is its own consumer group; a pod's host
        // name is stable across restarts of the same pod and distinct between pods.
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
        Self {
            feed: Arc::default(),
            system,
            group: format!("web-live-{host}"),
        }
    }

    pub fn feed(&self) -> &Arc<LiveFeed> {
        &self.feed
    }
}

#[derive(Clone)]
struct AppState {
    feed: Arc<LiveFeed>,
    system: Arc<SystemInfo>,
}

impl Service for WebService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn routes(&self) -> OpenApiRouter {
        OpenApiRouter::new()
            .routes(routes!(event_stream))
            .routes(routes!(system))
            .with_state(AppState {
                feed: self.feed.clone(),
                system: Arc::new(self.system.clone()),
            })
    }

    fn public_routes(&self) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/assets/{*path}", get(asset))
    }

    fn database(&self) -> Option<&Db> {
        None
    }

    fn consumers(&self) -> Vec<Consumer> {
        vec![Consumer::new(
            &self.group,
            &[
                topics::USER_PROFILE,
                topics::DOCUMENT,
                topics::ADVICE,
                topics::CHAT,
                topics::MEMORY,
                topics::MARKETS_ORDER,
                topics::EXPENSES,
                topics::AGENTS,
                topics::IMAGE,
            ],
            Arc::new(FeedWriter(self.feed.clone())),
        )]
    }
}

struct FeedWriter(Arc<LiveFeed>);

#[async_trait]
impl EventHandler for FeedWriter {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        self.0.push(event.clone());
        Ok(())
    }
}

async fn index() -> Response {
    match ASSETS.get_file("index.html") {
        Some(file) => Html(file.contents()).into_response(),
        None => (StatusCode::NOT_FOUND, "the web UI is not in this build").into_response(),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    let Some(file) = ASSETS.get_file(&path) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let kind = match path.rsplit('.').next() {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            // Files change only with the binary; revalidating is cheap on loopback.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        file.contents(),
    )
        .into_response()
}

/// Your events as they happen (server-sent events, `event: cloudevent`, one CloudEvents JSON
/// object per message): your recent ones first, then live ones.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "web",
    responses((status = 200, description = "`text/event-stream` of `cloudevent` messages", content_type = "text/event-stream")))]
async fn event_stream(
    State(state): State<AppState>,
    principal: Principal,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let events = state.feed.follow(principal.user_id).map(|event| {
        Ok(Event::default()
            .event("cloudevent")
            .id(event.id.clone())
            .data(String::from_utf8_lossy(&event.to_bytes())))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// Which services, event bus and models this process runs.
#[utoipa::path(get, path = "/api/v1/system", tag = "web",
    responses((status = 200, body = SystemInfo)))]
async fn system(State(state): State<AppState>, _principal: Principal) -> Json<SystemInfo> {
    Json((*state.system).clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(owner: &str, n: u32) -> CloudEvent {
        CloudEvent::new(
            "/miyagi/test",
            "miyagi.test.v1",
            format!("s{n}"),
            &json!({ "owner": owner, "n": n }),
        )
    }

    #[tokio::test]
    async fn a_page_gets_its_owners_recent_events_then_live_ones_and_nobody_elses() {
        let feed = LiveFeed::default();
        feed.push(event("alice", 1));
        feed.push(event("bob", 2));
        let mut followed = Box::pin(feed.follow("alice".into()));
        feed.push(event("bob", 3));
        feed.push(event("alice", 4));
        let first = followed.next().await.unwrap();
        let second = followed.next().await.unwrap();
        assert_eq!(
            (first.data["n"].clone(), second.data["n"].clone()),
            (json!(1), json!(4))
        );
    }

    #[test]
    fn an_event_without_an_owner_is_shown_to_nobody() {
        let orphan = CloudEvent::new("/t", "t.v1", "s", &json!({ "n": 1 }));
        assert!(!owned_by(&orphan, ""));
    }

    #[test]
    fn the_pages_are_embedded() {
        assert!(ASSETS.get_file("index.html").is_some(), "assets/index.html");
    }
}
