//! The service as a client sees it, running for real: HTTP, the embedded event log carrying
//! `uploaded` events to the ingestion consumer, MiniLM embeddings, the HNSW index, SQLite.

use std::{ops::Deref, sync::Arc, time::Duration};

use miyagi_documents::{DocumentsService, Models};
use miyagi_domain::document::LIBRARY_OWNER;
use miyagi_memory::{
    remote::HttpRetriever,
    retrieve::{RetrievalSettings, Retriever},
    testing,
};
use miyagi_platform::{config::Config, events::EventBus};
use miyagi_testing::{api_key, models, TestApp, TestContext};
use reqwest::{multipart, StatusCode};
use serde_json::{json, Value};

/// The documents service for alice and bob, with the document-specific calls its tests make,
/// and the event log it runs on.
pub(crate) struct Miyagi(TestApp, pub(crate) Arc<dyn EventBus>);

impl Deref for Miyagi {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.0
    }
}

impl Miyagi {
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Small upload limits and no library (it takes a while to ingest), then `configure`.
    pub(crate) async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let test = TestContext::new(&["alice", "bob"], |config| {
            config.documents.max_upload_bytes = 100_000;
            config.documents.max_files_per_upload = 3;
            config.documents.library = false;
            configure(config);
        })
        .await;
        let models = models::local();
        let service = DocumentsService::start(
            &test.context,
            Models {
                embedder: models.embedder.clone(),
                tokens: models.tokens.clone(),
                kernel: Some(models.kernel.clone()),
            },
        )
        .await
        .unwrap();
        let bus = test.context.bus.clone();
        Self(test.spawn(vec![Box::new(service)]).await, bus)
    }

    pub(crate) async fn upload(
        &self,
        user: &str,
        files: Vec<(&str, &str, Vec<u8>)>,
        collection: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut form = multipart::Form::new();
        if let Some(c) = collection {
            form = form.text("collection", c.to_string());
        }
        for (name, mime, bytes) in files {
            form = form.part(
                "file",
                multipart::Part::bytes(bytes)
                    .file_name(name.to_string())
                    .mime_str(mime)
                    .unwrap(),
            );
        }
        self.send(
            self.request(user, reqwest::Method::POST, "/api/v1/documents")
                .multipart(form),
        )
        .await
    }

    /// Polls a document until ingestion has settled (indexed or failed).
    pub(crate) async fn settled(&self, user: &str, id: &str) -> Value {
        for _ in 0..600 {
            let (status, doc) = self
                .send(self.request(
                    user,
                    reqwest::Method::GET,
                    &format!("/api/v1/documents/{id}"),
                ))
                .await;
            assert_eq!(status, StatusCode::OK, "{doc}");
            if doc["status"] != "pending" {
                return doc;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("document {id} was never ingested");
    }

    /// A PDF that is not one, uploaded and settled (`failed`).
    pub(crate) async fn unreadable_pdf(&self, user: &str) -> Value {
        self.upload_and_settle(
            user,
            "scan.pdf",
            "application/pdf",
            b"%PDF-1.7 this is not a PDF".to_vec(),
        )
        .await
    }

    pub(crate) async fn upload_and_settle(
        &self,
        user: &str,
        name: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> Value {
        let (status, body) = self.upload(user, vec![(name, mime, bytes)], None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body[0]["status"], "pending");
        self.settled(user, body[0]["id"].as_str().unwrap()).await
    }

    pub(crate) async fn search(&self, user: &str, body: Value) -> Vec<Value> {
        let (status, found) = self
            .send(
                self.request(user, reqwest::Method::POST, "/api/v1/documents/search")
                    .json(&body),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        found["results"].as_array().unwrap().clone()
    }
}

pub(crate) const FEES_MD: &str =
    "# Fund fees\n\n## Expense ratios\n\nAn expense ratio is the yearly fee a fund charges, \
as a share of what you hold. A fee of one percent compounds against you for decades.\n\n\
## Trading costs\n\nBid-ask spreads and commissions are paid each time you trade.";

#[tokio::test]
async fn an_uploaded_markdown_file_is_ingested_through_events_and_found_with_a_citation() {
    let miyagi = Miyagi::start().await;
    let doc = miyagi
        .upload_and_settle(
            "alice",
            "fees.md",
            "text/markdown",
            FEES_MD.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(doc["status"], "indexed", "{doc}");
    assert!(doc["chunkCount"].as_i64().unwrap() >= 1);
    let results = miyagi
        .search(
            "alice",
            json!({"query": "what does a fund's yearly expense ratio cost me?"}),
        )
        .await;
    let top = &results[0];
    assert_eq!(top["citation"]["documentName"], "fees.md");
    assert_eq!(top["citation"]["documentId"], doc["id"]);
    let snippet = top["citation"]["snippet"].as_str().unwrap();
    assert!(top["text"].as_str().unwrap().contains(snippet), "{top}");
    assert!(snippet.contains("expense ratio"), "{snippet}");
    assert!(top["section"].as_str().unwrap().starts_with("Fund fees"));
    assert!(top["relevance"].as_f64().unwrap() > 0.3, "{top}");
}

#[tokio::test]
async fn pdf_and_html_files_are_ingested_and_searchable() {
    let miyagi = Miyagi::start().await;
    let pdf = testing::pdf(&[
        "Emergency funds hold three to six months of essential spending.",
        "",
        "Keep the emergency fund in cash or a savings account.",
    ]);
    let html = "<html><head><script>steal()</script></head><body><h1>Bonds</h1>\
                <p>Bond prices fall when interest rates rise; duration measures how much.</p></body></html>";
    let pdf_doc = miyagi
        .upload_and_settle("alice", "emergency.pdf", "application/pdf", pdf)
        .await;
    let html_doc = miyagi
        .upload_and_settle("alice", "bonds.html", "text/html", html.as_bytes().to_vec())
        .await;
    assert_eq!(
        (pdf_doc["status"].as_str(), html_doc["status"].as_str()),
        (Some("indexed"), Some("indexed"))
    );
    let results = miyagi
        .search(
            "alice",
            json!({"query": "how many months of spending for emergencies", "limit": 1}),
        )
        .await;
    assert_eq!(results[0]["citation"]["documentName"], "emergency.pdf");
    let results = miyagi
        .search(
            "alice",
            json!({"query": "bond duration and interest rates", "limit": 1}),
        )
        .await;
    assert_eq!(results[0]["citation"]["documentName"], "bonds.html");
    assert!(!results[0]["text"].as_str().unwrap().contains("steal"));
}

#[tokio::test]
async fn reuploading_a_document_replaces_its_chunks_and_never_duplicates_them() {
    let miyagi = Miyagi::start().await;
    let first = miyagi
        .upload_and_settle(
            "alice",
            "plan.md",
            "text/markdown",
            b"# Plan\n\nBuy the zebra fund every month.".to_vec(),
        )
        .await;
    let second = miyagi
        .upload_and_settle(
            "alice",
            "plan.md",
            "text/markdown",
            b"# Plan\n\nBuy the walrus fund every month.".to_vec(),
        )
        .await;
    assert_eq!(second["id"], first["id"], "same name, same document");
    assert_eq!(second["version"], 2);
    let zebra = miyagi
        .search("alice", json!({"query": "zebra", "mode": "keyword"}))
        .await;
    assert!(zebra.is_empty(), "old version's chunks linger: {zebra:?}");
    let all = miyagi
        .search(
            "alice",
            json!({"query": "which fund to buy monthly", "limit": 50}),
        )
        .await;
    assert_eq!(
        all.len(),
        second["chunkCount"].as_u64().unwrap() as usize,
        "{all:?}"
    );
    assert!(all[0]["text"].as_str().unwrap().contains("walrus"));
    let (_, listed) = miyagi
        .send(miyagi.request("alice", reqwest::Method::GET, "/api/v1/documents"))
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deleting_a_document_removes_its_chunks_vectors_and_file() {
    let miyagi = Miyagi::start().await;
    let doc = miyagi
        .upload_and_settle(
            "alice",
            "fees.md",
            "text/markdown",
            FEES_MD.as_bytes().to_vec(),
        )
        .await;
    let id = doc["id"].as_str().unwrap();
    let blobs = miyagi.data_dir().join("blobs/documents").join(id);
    assert!(blobs.read_dir().unwrap().count() == 1);
    let (status, _) = miyagi
        .send(miyagi.request(
            "alice",
            reqwest::Method::DELETE,
            &format!("/api/v1/documents/{id}"),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = miyagi
        .send(miyagi.request(
            "alice",
            reqwest::Method::GET,
            &format!("/api/v1/documents/{id}"),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    for mode in ["vector", "keyword", "hybrid"] {
        let found = miyagi
            .search("alice", json!({"query": "expense ratio fee", "mode": mode}))
            .await;
        assert!(found.is_empty(), "{mode}: {found:?}");
    }
    assert!(!blobs.exists() || blobs.read_dir().unwrap().count() == 0);
}

#[tokio::test]
async fn one_users_documents_never_reach_another_user() {
    let miyagi = Miyagi::start().await;
    let doc = miyagi
        .upload_and_settle(
            "alice",
            "fees.md",
            "text/markdown",
            FEES_MD.as_bytes().to_vec(),
        )
        .await;
    let id = doc["id"].as_str().unwrap();
    for mode in ["vector", "keyword", "hybrid"] {
        let found = miyagi
            .search(
                "bob",
                json!({"query": "expense ratio fee", "mode": mode, "minRelevance": -1.0}),
            )
            .await;
        assert!(found.is_empty(), "{mode}: bob sees {found:?}");
    }
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (status, _) = miyagi
            .send(miyagi.request("bob", method, &format!("/api/v1/documents/{id}")))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, listed) = miyagi
        .send(miyagi.request("bob", reqwest::Method::GET, "/api/v1/documents"))
        .await;
    assert_eq!(listed, json!([]));
    // Bob uploading the same name makes his own document, leaving alice's alone.
    let bobs = miyagi
        .upload_and_settle(
            "bob",
            "fees.md",
            "text/markdown",
            b"# Mine\n\nBob's own notes.".to_vec(),
        )
        .await;
    assert_ne!(bobs["id"], doc["id"]);
    assert_eq!(miyagi.settled("alice", id).await["version"], 1);
}

#[tokio::test]
async fn bad_uploads_and_searches_get_clear_problems() {
    let miyagi = Miyagi::start().await;
    let md = |n: &'static str| (n, "text/markdown", b"# ok\n\ntext".to_vec());
    // (files as name, content type, bytes; collection; expected status; words in the problem)
    type Case<'a> = (
        Vec<(&'a str, &'a str, Vec<u8>)>,
        Option<&'a str>,
        StatusCode,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            vec![("photo.png", "image/png", vec![1, 2, 3])],
            None,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "only text, Markdown, HTML and PDF",
        ),
        (
            vec![("big.md", "text/markdown", vec![b'a'; 100_001])],
            None,
            StatusCode::PAYLOAD_TOO_LARGE,
            "the limit is 100000 bytes",
        ),
        (
            vec![md("a.md"), md("b.md"), md("c.md"), md("d.md")],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "at most 3 files",
        ),
        (
            vec![],
            Some("default"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "attach at least one file",
        ),
        (
            vec![md("a.md")],
            Some("../Secrets"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "collection",
        ),
        (
            vec![("empty.md", "text/markdown", vec![])],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "is empty",
        ),
    ];
    for (files, collection, expected, says) in cases {
        let (status, problem) = miyagi.upload("alice", files, collection).await;
        assert_eq!(status, expected, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap_or("").contains(says),
            "{problem}"
        );
    }
    let (status, problem) = miyagi
        .send(
            miyagi
                .request("alice", reqwest::Method::POST, "/api/v1/documents/search")
                .json(&json!({"query": "", "limit": 500})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"query") && fields.contains(&"limit"),
        "{problem}"
    );
    let (_, listed) = miyagi
        .send(miyagi.request("alice", reqwest::Method::GET, "/api/v1/documents"))
        .await;
    assert_eq!(
        listed,
        json!([]),
        "nothing from the refused uploads was kept"
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_read_is_marked_failed_with_the_reason() {
    let miyagi = Miyagi::start().await;
    let doc = miyagi.unreadable_pdf("alice").await;
    assert_eq!(doc["status"], "failed");
    assert!(doc["error"].as_str().unwrap().contains("PDF"), "{doc}");
    assert_eq!(doc["chunkCount"], 0);
}

#[tokio::test]
async fn the_bundled_dataset_ingests_once_and_grounds_answers_with_verified_citations() {
    let miyagi = Miyagi::start().await;
    let ingest = || async {
        let (status, accepted) = miyagi
            .send(
                miyagi
                    .request(
                        "alice",
                        reqwest::Method::POST,
                        "/api/v1/datasets/investing-principles",
                    )
                    .json(&json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        assert_eq!(accepted["documents"], 12, "{accepted}");
        for _ in 0..1200 {
            let (_, now) = miyagi
                .send(miyagi.request(
                    "alice",
                    reqwest::Method::GET,
                    "/api/v1/datasets/investing-principles/status",
                ))
                .await;
            if now["pending"] == 0 {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the dataset was never ingested");
    };
    let first = ingest().await;
    assert_eq!(
        (first["indexed"].as_u64(), &first["failed"]),
        (Some(12), &json!([])),
        "{first}"
    );
    let chunks = first["chunks"].as_i64().unwrap();
    assert!(chunks > 24, "{first}");
    let again = ingest().await;
    assert_eq!(
        again["chunks"], chunks,
        "re-ingesting does not duplicate chunks"
    );
    let (_, listed) = miyagi
        .send(miyagi.request(
            "alice",
            reqwest::Method::GET,
            "/api/v1/documents?collection=investing-principles",
        ))
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 12);

    let results = miyagi
        .search(
            "alice",
            json!({"query": "how much do expense ratios cost over thirty years", "collection": "investing-principles", "tokenBudget": 400}),
        )
        .await;
    assert_eq!(
        results[0]["citation"]["documentName"], "index-funds-and-fees.md",
        "{results:?}"
    );
    let budget: u64 = results
        .iter()
        .map(|r| r["text"].as_str().unwrap().len() as u64)
        .sum();
    assert!(budget > 0);

    let (status, answer) = miyagi
        .send(
            miyagi
                .request("alice", reqwest::Method::POST, "/api/v1/documents/ask")
                .json(&json!({"question": "Why do fund fees matter?", "collection": "investing-principles"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        !answer["answer"].as_str().unwrap().trim().is_empty(),
        "{answer}"
    );
    // Each citation the service shows quotes its chunk word for word.
    for citation in answer["citations"].as_array().unwrap() {
        let found = miyagi
            .search("alice", json!({"query": citation["snippet"], "collection": "investing-principles", "limit": 50}))
            .await;
        let chunk = found
            .iter()
            .find(|r| r["citation"]["chunkId"] == citation["chunkId"])
            .expect("the cited chunk exists");
        assert!(chunk["text"]
            .as_str()
            .unwrap()
            .contains(citation["snippet"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn the_shared_library_is_served_over_http_to_any_signed_in_caller_and_nothing_else() {
    let miyagi = Miyagi::start_with(|config| config.documents.library = true).await;
    let library = HttpRetriever::new(&miyagi.base, Some(api_key("bob")), LIBRARY_OWNER).unwrap();
    let settings = RetrievalSettings {
        limit: 3,
        ..Default::default()
    };
    let mut passages = Vec::new();
    for _ in 0..3000 {
        passages = library
            .retrieve(LIBRARY_OWNER, "why diversify a portfolio?", None, &settings)
            .await
            .unwrap();
        if passages
            .iter()
            .any(|p| p.text.to_lowercase().contains("diversif"))
        {
            break;
        }
        // The library is ingested in the background after start, one document at a time.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        passages
            .iter()
            .any(|p| p.text.to_lowercase().contains("diversif")),
        "the library's passages on diversification were never served: {passages:?}"
    );
    assert!(passages.len() <= 3);

    let err = library
        .retrieve("bob", "why diversify?", None, &settings)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only"), "{err}");

    let anonymous = HttpRetriever::new(&miyagi.base, None, LIBRARY_OWNER).unwrap();
    let err = anonymous
        .retrieve(LIBRARY_OWNER, "why diversify?", None, &settings)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    let (status, problem) = miyagi
        .send(
            miyagi
                .request("bob", reqwest::Method::POST, "/api/v1/library/passages")
                .json(&json!({"query": "", "limit": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}
