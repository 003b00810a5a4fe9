//! Tool calling, filters, structured output with repair, the usage ledger and the cache.

use std::sync::{
    atomic::{AtomicU32, Ordering},
    Arc,
};

use async_trait::async_trait;
use miyagi_kernel::{
    cache::ResponseCache,
    chat::{ChatRequest, ExecutionSettings},
    filter::Filter,
    function::Arguments,
    usage::{Price, UsageLedger},
    ChatMessage, ChatModel, Kernel, KernelError, NativeFunction, Plugin,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::mock::{completion, streamed, streamed_tool_calls, tool_calls, Client, MockLlm, Reply};

#[derive(Deserialize, JsonSchema)]
struct Symbol {
    /// Ticker symbol, e.g. MSFT.
    symbol: String,
}

#[derive(Deserialize, JsonSchema)]
struct Order {
    symbol: String,
    quantity: u32,
}

#[derive(Deserialize, JsonSchema)]
struct Nothing {}

fn market() -> Plugin {
    Plugin::new(
        "market",
        vec![
            NativeFunction::from_fn(
                "market",
                "quote",
                "Latest price of a stock",
                |s: Symbol| async move {
                    match s.symbol.as_str() {
                        "MSFT" => Ok(json!({"symbol": "MSFT", "price": 420.5})),
                        other => Err(format!("unknown symbol {other}")),
                    }
                },
            ),
            NativeFunction::from_fn(
                "market",
                "status",
                "Whether the market is open",
                |_: Nothing| async { Ok("open") },
            ),
            NativeFunction::from_fn(
                "orders",
                "place",
                "Places an order (side effect!)",
                |o: Order| async move { Ok(format!("bought {} {}", o.quantity, o.symbol)) },
            ),
        ],
    )
}

fn kernel_with(llm: &MockLlm) -> Kernel {
    Kernel::builder()
        .chat_model(Arc::new(llm.client()) as Arc<dyn ChatModel>)
        .plugin(market())
        .build()
}

fn question(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user(text)],
        ..Default::default()
    }
}

fn tool_messages(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_tool_loop_passes_on_the_words_and_reports_each_call() {
    let llm = MockLlm::start(vec![
        streamed_tool_calls(&[("c1", "market-quote", r#"{"symbol":"MSFT"}"#)]),
        streamed(&["MSFT trades ", "at 420.50."]),
    ])
    .await;
    let mut seen = Vec::new();
    let (answer, calls) = kernel_with(&llm)
        .chat_stream_with_tools(question("How is MSFT doing?"), 3, |t| {
            seen.push(t.to_string())
        })
        .await
        .unwrap();
    assert_eq!(answer, "MSFT trades at 420.50.");
    assert_eq!(seen, ["MSFT trades ", "at 420.50."]);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].call.name, "market-quote");
    assert_eq!(calls[0].call.arguments, r#"{"symbol":"MSFT"}"#);
    assert!(calls[0].shown().contains("420.5"), "{:?}", calls[0]);
    let requests = llm.requests();
    assert_eq!(
        tool_messages(&requests[1].body),
        [("c1".to_string(), calls[0].shown())]
    );
}

#[tokio::test]
async fn a_function_for_a_person_runs_for_the_kernels_user_and_refuses_nobody() {
    let whoami = Plugin::new(
        "me",
        vec![NativeFunction::for_user(
            "me",
            "name",
            "Who the caller is",
            |user: String, _: Nothing| async move { Ok(user) },
        )],
    );
    let kernel = Kernel::builder().plugin(whoami).build();
    assert_eq!(
        kernel
            .for_user("ada")
            .invoke("me", "name", Arguments::new())
            .await
            .unwrap(),
        json!("ada")
    );
    let err = kernel
        .invoke("me", "name", Arguments::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("acts for a person"), "{err}");
}

#[tokio::test]
async fn the_model_calls_two_functions_then_answers_with_their_results() {
    let llm = MockLlm::start(vec![
        Reply::Json(tool_calls(&[
            ("c1", "market-quote", r#"{"symbol":"MSFT"}"#),
            ("c2", "market-status", "{}"),
        ])),
        Reply::Json(completion("MSFT trades at 420.50 and the market is open.")),
    ])
    .await;
    let answer = kernel_with(&llm)
        .chat_with_tools(question("How is MSFT doing?"), 5)
        .await
        .unwrap();
    assert_eq!(
        answer.message.content,
        "MSFT trades at 420.50 and the market is open."
    );

    let requests = llm.requests();
    let offered = requests[0].offered_tools();
    assert!(
        offered.contains(&"market-quote") && offered.contains(&"orders-place"),
        "{offered:?}"
    );
    assert_eq!(
        requests[0].body["tools"][0]["function"]["parameters"]["type"],
        "object"
    );
    assert_eq!(
        tool_messages(&requests[1].body),
        vec![
            ("c1".into(), r#"{"price":420.5,"symbol":"MSFT"}"#.into()),
            ("c2".into(), "open".into())
        ]
    );
    assert_eq!(
        requests[1].body["messages"][1]["tool_calls"][0]["function"]["name"],
        "market-quote"
    );
}

#[tokio::test]
async fn a_failing_tool_or_bad_arguments_are_reported_to_the_model_and_the_loop_goes_on() {
    let llm = MockLlm::start(vec![
        Reply::Json(tool_calls(&[
            ("c1", "market-quote", r#"{"symbol":"NOPE"}"#),
            ("c2", "market-quote", "{not json"),
            ("c3", "market-teleport", "{}"),
        ])),
        Reply::Json(completion("Sorry, I could not find that symbol.")),
    ])
    .await;
    let answer = kernel_with(&llm)
        .chat_with_tools(question("Quote NOPE"), 5)
        .await
        .unwrap();
    assert_eq!(
        answer.message.content,
        "Sorry, I could not find that symbol."
    );
    let results = tool_messages(&llm.requests()[1].body);
    assert!(
        results[0].1.starts_with("error:") && results[0].1.contains("unknown symbol NOPE"),
        "{results:?}"
    );
    assert!(results[1].1.contains("not valid JSON"), "{results:?}");
    assert!(
        results[2].1.contains("no function named market.teleport"),
        "{results:?}"
    );
}

/// An approval gate: side-effecting functions need an explicit approval.
struct ApprovalGate {
    approved: bool,
}

#[async_trait]
impl Filter for ApprovalGate {
    async fn function_invoking(
        &self,
        function: &str,
        _: &mut Arguments,
    ) -> Result<(), KernelError> {
        if function.starts_with("orders-") && !self.approved {
            return Err(KernelError::Denied(format!(
                "{function} needs the user's approval"
            )));
        }
        Ok(())
    }
}

#[tokio::test]
async fn an_approval_gate_filter_stops_a_side_effecting_tool() {
    let llm = MockLlm::start(vec![
        Reply::Json(tool_calls(&[(
            "c1",
            "orders-place",
            r#"{"symbol":"MSFT","quantity":10}"#,
        )])),
        Reply::Json(completion(
            "I need your approval before placing that order.",
        )),
    ])
    .await;
    let kernel = Kernel::builder()
        .chat_model(Arc::new(llm.client()) as Arc<dyn ChatModel>)
        .plugin(market())
        .filter(Arc::new(ApprovalGate { approved: false }))
        .build();
    kernel
        .chat_with_tools(question("Buy 10 MSFT"), 3)
        .await
        .unwrap();
    let results = tool_messages(&llm.requests()[1].body);
    assert_eq!(
        results[0].1,
        "error: denied: orders-place needs the user's approval"
    );
}

/// A redaction filter: account numbers never leave the process.
struct Redactor;

#[async_trait]
impl Filter for Redactor {
    async fn prompt_rendered(&self, _: &str, prompt: &mut String) -> Result<(), KernelError> {
        *prompt = prompt.replace("12-3456-789", "[redacted]");
        Ok(())
    }
    async fn function_invoked(&self, _: &str, result: &mut Value) -> Result<(), KernelError> {
        if let Value::String(s) = result {
            *s = s.replace("12-3456-789", "[redacted]");
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_prompt_filter_redacts_before_anything_is_sent() {
    let llm = MockLlm::start(vec![Reply::Json(completion("ok"))]).await;
    let function = miyagi_kernel::function::PromptFunction::new(
        "notes",
        "summarize",
        "",
        miyagi_kernel::template::PromptTemplate::new(Default::default(), "Summarize: {{$input}}")
            .unwrap(),
        vec![],
        ExecutionSettings::default(),
    );
    let kernel = Kernel::builder()
        .chat_model(Arc::new(llm.client()) as Arc<dyn ChatModel>)
        .plugin(Plugin::new("notes", vec![Arc::new(function)]))
        .filter(Arc::new(Redactor))
        .build();
    let args: Arguments = [(
        "input".to_string(),
        json!("Account 12-3456-789 is overdrawn"),
    )]
    .into();
    kernel.invoke("notes", "summarize", args).await.unwrap();
    assert_eq!(
        llm.requests()[0].body["messages"][0]["content"],
        "Summarize: Account [redacted] is overdrawn"
    );
}

#[tokio::test]
async fn the_loop_stops_after_max_iterations_and_asks_for_a_final_answer_without_tools() {
    let again = || Reply::Json(tool_calls(&[("c", "market-status", "{}")]));
    let llm = MockLlm::start(vec![
        again(),
        again(),
        Reply::Json(completion("The market is open.")),
    ])
    .await;
    let answer = kernel_with(&llm)
        .chat_with_tools(question("Is it open?"), 2)
        .await
        .unwrap();
    assert_eq!(answer.message.content, "The market is open.");
    let requests = llm.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[2].body.get("tools").is_none(),
        "the last call offers no tools"
    );
}

#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
struct Allocation {
    stocks: u8,
    bonds: u8,
    cash: u8,
    rationale: String,
}

#[tokio::test]
async fn structured_output_repairs_invalid_json_by_sending_the_errors_back() {
    let llm = MockLlm::start(vec![
        Reply::Json(completion(r#"{"stocks": 60, "bonds": "forty"}"#)),
        Reply::Json(completion("```json\n{\"stocks\": 60, \"bonds\": 30, \"cash\": 10, \"rationale\": \"Balanced.\"}\n```")),
    ])
    .await;
    let allocation: Allocation = kernel_with(&llm)
        .structured(question("Allocate for a 40-year-old"), 3)
        .await
        .unwrap();
    assert_eq!(
        allocation,
        Allocation {
            stocks: 60,
            bonds: 30,
            cash: 10,
            rationale: "Balanced.".into()
        }
    );

    let requests = llm.requests();
    let format = &requests[0].body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(
        format["json_schema"]["schema"]["properties"]["stocks"]["type"],
        "integer"
    );
    let repair = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        repair.contains("does not match the required JSON schema"),
        "{repair}"
    );
    assert!(
        repair.contains("/bonds") || repair.contains("forty"),
        "{repair}"
    );
    assert!(
        repair.contains("cash"),
        "the missing field is named: {repair}"
    );
}

#[tokio::test]
async fn structured_output_gives_up_with_the_errors_after_the_attempts() {
    let llm = MockLlm::start(vec![
        Reply::Json(completion("no json")),
        Reply::Json(completion("still none")),
    ])
    .await;
    let err = kernel_with(&llm)
        .structured::<Allocation>(question("Allocate"), 2)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KernelError::Schema { attempts: 2, ref errors } if errors.contains("not valid JSON")),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_ledger_records_tokens_and_cost_per_run_and_user_for_plain_and_streamed_calls() {
    let llm = MockLlm::start(vec![Reply::Json(completion("a")), streamed(&["b"])]).await;
    let ledger = Arc::new(UsageLedger::with_prices(
        [(
            "gpt-test".to_string(),
            Price {
                input_per_million: 1000.0,
                output_per_million: 2000.0,
            },
        )]
        .into(),
    ));
    let kernel = Kernel::builder()
        .chat_model(Arc::new(llm.client()) as Arc<dyn ChatModel>)
        .ledger(ledger.clone())
        .build();
    kernel
        .for_run("run-1", "alice")
        .chat(question("x"))
        .await
        .unwrap();
    let streamed = kernel
        .for_run("run-2", "alice")
        .chat_streamed(question("y"))
        .await
        .unwrap();
    assert_eq!(streamed.message.content, "b");

    let run1 = ledger.for_run("run-1");
    assert_eq!(
        (run1.calls, run1.prompt_tokens, run1.completion_tokens),
        (1, 12, 5)
    );
    assert!(
        (run1.cost - (12.0 * 1000.0 + 5.0 * 2000.0) / 1e6).abs() < 1e-9,
        "{}",
        run1.cost
    );
    let alice = ledger.for_user("alice");
    assert_eq!(
        (alice.calls, alice.prompt_tokens),
        (2, 24),
        "the streamed call is counted too"
    );
    assert!(ledger.records()[1].streamed);
}

#[tokio::test]
async fn an_identical_call_is_answered_from_the_cache_without_a_model_call() {
    let llm = MockLlm::start(vec![
        Reply::Json(completion("cached answer")),
        Reply::Json(completion("fresh answer")),
    ])
    .await;
    let kernel = Kernel::builder()
        .chat_model(Arc::new(llm.client()) as Arc<dyn ChatModel>)
        .cache(Arc::new(ResponseCache::new(100)))
        .build();
    let first = kernel.chat(question("same")).await.unwrap();
    let second = kernel.chat(question("same")).await.unwrap();
    assert_eq!(first.message.content, second.message.content);
    assert_eq!(llm.requests().len(), 1);
    let different = kernel.chat(question("different")).await.unwrap();
    assert_eq!(different.message.content, "fresh answer");
    assert!(kernel.ledger().records()[1].cached);
    assert_eq!(kernel.ledger().records()[1].cost, 0.0);
}

#[tokio::test]
async fn independent_tool_calls_run_concurrently() {
    static RUNNING: AtomicU32 = AtomicU32::new(0);
    static PEAK: AtomicU32 = AtomicU32::new(0);
    let slow = NativeFunction::from_fn("clock", "wait", "Waits a little", |_: Nothing| async {
        let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        Ok("done")
    });
    let llm = MockLlm::start(vec![
        Reply::Json(tool_calls(&[
            ("a", "clock-wait", "{}"),
            ("b", "clock-wait", "{}"),
            ("c", "clock-wait", "{}"),
        ])),
        Reply::Json(completion("all done")),
    ])
    .await;
    let kernel = Kernel::builder()
        .chat_model(Arc::new(llm.client()) as Arc<dyn ChatModel>)
        .plugin(Plugin::new("clock", vec![slow]))
        .build();
    kernel
        .chat_with_tools(question("wait thrice"), 3)
        .await
        .unwrap();
    assert_eq!(PEAK.load(Ordering::SeqCst), 3);
    assert_eq!(
        llm.requests()[1].body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "tool")
            .count(),
        3
    );
}
