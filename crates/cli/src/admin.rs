//! The commands that ask a running Miyagi through its operator API (`/api/v1/admin`): the
//! process holds its data dir, so these ask it rather than open its files.
//! `miyagi events dlq` reads and redrives dead letters; `miyagi backup` takes a backup.

use clap::Subcommand;
use serde_json::Value;

#[derive(Subcommand)]
pub enum DlqAction {
    /// The newest dead letters of every service, one line each.
    List {
        /// Only this service's.
        #[arg(long)]
        service: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One dead letter with its error and the record as it was read.
    Show { id: String },
    /// Publish a dead letter's event again, once its cause is fixed.
    Redrive { id: String },
}

/// Where the running Miyagi is, and the operator's key when it asks for one.
pub struct Target {
    pub base: String,
    pub api_key: Option<String>,
}

/// Sends `request` with the operator's key; the JSON answer, or the problem's detail as an error.
async fn ask(target: &Target, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let request = match &target.api_key {
        Some(key) => request.header("x-api-key", key),
        None => request,
    };
    let response = request
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach Miyagi at {}: {e}", target.base))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let detail = body["detail"].as_str().unwrap_or("no detail");
        anyhow::bail!("Miyagi answered {status}: {detail}");
    }
    Ok(body)
}

pub async fn dead_letters(target: &Target, action: DlqAction) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v1/admin/dead-letters{path}", target.base);
    let request = match &action {
        DlqAction::List { service, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(service.iter().map(|s| ("service", s.clone())));
            http.get(url("")).query(&query)
        }
        DlqAction::Show { id } => http.get(url(&format!("/{id}"))),
        DlqAction::Redrive { id } => http.post(url(&format!("/{id}/redrive"))),
    };
    let body = ask(target, request).await?;
    match action {
        DlqAction::List { .. } => {
            let letters = body["deadLetters"].as_array().cloned().unwrap_or_default();
            if letters.is_empty() {
                println!("no dead letters");
            }
            for letter in letters {
                println!("{}", line(&letter));
            }
        }
        DlqAction::Show { .. } => println!("{}", serde_json::to_string_pretty(&body)?),
        DlqAction::Redrive { id } => println!(
            "redriven {id}: event {} is queued for {} again",
            text(&body["eventId"]),
            text(&body["topic"])
        ),
    }
    Ok(())
}

pub async fn backup(target: &Target) -> anyhow::Result<()> {
    let request = reqwest::Client::new().post(format!("{}/api/v1/admin/backups", target.base));
    let body = ask(target, request).await?;
    let mut parts: Vec<&str> = body["databases"]
        .as_array()
        .map(|names| names.iter().map(text).collect())
        .unwrap_or_default();
    if body["eventLog"] == Value::Bool(true) {
        parts.push("the event log");
    }
    println!(
        "backed up {} ({:.1} MB) into {}",
        parts.join(", "),
        body["bytes"].as_f64().unwrap_or(0.0) / 1e6,
        text(&body["path"])
    );
    Ok(())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

/// `id  service  topic  type  attempts  when  [redriven]  error`, the error cut to one line.
fn line(letter: &Value) -> String {
    let error: String = text(&letter["error"])
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(100)
        .collect();
    let redriven = if letter["redrivenAt"].is_string() {
        "redriven"
    } else {
        "parked"
    };
    format!(
        "{}  {:<10} {:<28} {:<36} {:>2}x  {}  {:<8}  {error}",
        text(&letter["id"]),
        text(&letter["service"]),
        text(&letter["topic"]),
        text(&letter["eventType"]),
        letter["attempts"].as_i64().unwrap_or(0),
        text(&letter["deadAt"]),
        redriven,
    )
}
