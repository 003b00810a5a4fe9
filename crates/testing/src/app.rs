//! Services running for a test, and a client that calls them as one user or another.

use std::{future::Future, sync::mpsc, time::Duration};

use miyagi_platform::{
    config::{ApiKeyConfig, AuthMode, Config},
    runtime::Runtime,
    Service, ServiceContext,
};
use reqwest::{header::HeaderMap, Method, RequestBuilder, StatusCode};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The API key `user` holds in every [`TestContext`].
pub fn api_key(user: &str) -> String {
    format!("{user}-key")
}

/// A test's configuration and the service context made from it; start the services under test
/// on [`TestContext::context`], then [`TestContext::spawn`] them.
pub struct TestContext {
    pub context: ServiceContext,
    data: tempfile::TempDir,
}

impl TestContext {
    /// Data in a fresh temporary folder, API-key auth in which each of `users` holds
    /// [`api_key`]`(user)`, consumers that retry after 10 ms; `configure` sets the rest.
    pub async fn new(users: &[&str], configure: impl FnOnce(&mut Config)) -> Self {
        let data = tempfile::tempdir().expect("a temporary data dir");
        let mut config = Config {
            data_dir: data.path().to_path_buf(),
            ..Config::default()
        };
        config.auth.mode = AuthMode::ApiKey;
        config.auth.keys = users
            .iter()
            .map(|user| ApiKeyConfig::for_key(user, &api_key(user)))
            .collect();
        config.consumer.backoff_initial_ms = 10;
        configure(&mut config);
        let context = ServiceContext::from_config(config)
            .await
            .expect("a service context from the test config");
        Self { context, data }
    }

    /// Runs `services` on a free loopback port, with their relays and consumers, until the
    /// returned app is dropped.
    pub async fn spawn(self, services: Vec<Box<dyn Service>>) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let base = format!("http://{}", listener.local_addr().expect("bound address"));
        let shutdown = CancellationToken::new();
        let running = Runtime::new(self.context, services).run(listener, shutdown.clone());
        let runtime = tokio::spawn(async move {
            if let Err(error) = running.await {
                eprintln!("the services under test stopped with an error: {error:#}");
            }
        });
        TestApp {
            runtime: Some(runtime),
            base,
            http: reqwest::Client::builder()
                // Model calls queue behind each other on one local model.
                .timeout(Duration::from_secs(900))
                // A pooled connection is driven by a task on the runtime that opened it. A
                // [`TestApp::shared`] app is called from each test's own runtime, so a connection
                // kept from a finished test is dead ("runtime dropped the dispatch task").
                .pool_max_idle_per_host(0)
                .build()
                .expect("an HTTP client"),
            shutdown,
            data: self.data,
        }
    }
}

/// Services under test, reachable at [`TestApp::base`]. Dropping it shuts them down.
pub struct TestApp {
    pub base: String,
    runtime: Option<tokio::task::JoinHandle<()>>,
    http: reqwest::Client,
    shutdown: CancellationToken,
    data: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A whole answer, for tests that read headers too.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestApp {
    /// One app for every test of a binary (expensive set-up such as ingesting a library is done
    /// once). `start` runs on a thread and runtime of its own, because each `#[tokio::test]`
    /// has its own runtime and an app spawned on one would stop when that test ends.
    pub fn shared<F, Fut>(start: F) -> TestApp
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = TestApp>,
    {
        let (ready, app) = mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime for the shared app");
            runtime.block_on(async move {
                ready
                    .send(start().await)
                    .expect("the test binary waits for its app");
                std::future::pending::<()>().await
            })
        });
        app.recv().expect("the shared app started")
    }

    /// Shuts the services down as a SIGTERM would and waits until they have stopped, so the
    /// data dir can be opened again (a restart test).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(runtime) = self.runtime.take() {
            let _ = runtime.await;
        }
    }

    /// The services' data dir (databases, event log, blobs).
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` carrying `user`'s API key.
    pub fn request(&self, user: &str, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("x-api-key", api_key(user))
    }

    /// Sends `request`; the status and the JSON body (`null` when there is none).
    pub async fn send(&self, request: RequestBuilder) -> (StatusCode, Value) {
        let reply = self.exchange(request).await;
        (reply.status, reply.body)
    }

    /// Sends `request`; status, headers and JSON body.
    pub async fn exchange(&self, request: RequestBuilder) -> Reply {
        let response = request.send().await.expect("the app answers");
        let status = response.status();
        let headers = response.headers().clone();
        Reply {
            status,
            headers,
            body: response.json().await.unwrap_or(Value::Null),
        }
    }

    /// `method path` as `user`, with `body` as JSON when given.
    pub async fn call(
        &self,
        user: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(user, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }
}
