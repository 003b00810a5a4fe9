//! Chats and their messages. A question is answered as a server-sent event stream: the answer's
//! words as the model writes them, then the stored question and answer.

use std::{convert::Infallible, sync::Arc};

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use futures::{Stream, StreamExt};
use miyagi_platform::{
    auth::Principal,
    http::{FieldError, Problem, ValidJson},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{in_range, TAG};
use crate::{
    domain::Copilot,
    model::{
        Chat, ChatExport, ChatSettings, ExportedMessage, Message, MessagePage, NewMessage,
        PromptView, MAX_QUESTION_CHARS,
    },
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ChatPage {
    /// How many chats to return (1–200, default 50), the most recently active first.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// List your chats, the most recently active first.
#[utoipa::path(get, path = "/api/v1/chats", tag = TAG, params(ChatPage),
    responses((status = 200, body = [Chat]), (status = 422, body = Problem)))]
pub(super) async fn list_chats(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Query(page): Query<ChatPage>,
) -> Result<Json<Vec<Chat>>, Problem> {
    let limit = in_range("limit", page.limit.unwrap_or(50), 1..=200)?;
    Ok(Json(
        copilot.store().chats(&principal.user_id, limit).await?,
    ))
}

/// Start a chat; emits `miyagi.chat.created.v1`. Without a persona, the coach speaks in the
/// voice of the favourite advisor on your profile.
#[utoipa::path(post, path = "/api/v1/chats", tag = TAG, request_body = ChatSettings,
    responses((status = 201, body = Chat, headers(("Location"))), (status = 422, body = Problem)))]
pub(super) async fn create_chat(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    ValidJson(new): ValidJson<ChatSettings>,
) -> Result<Response, Problem> {
    let chat = copilot.create_chat(&principal.user_id, new).await?;
    Ok(created(chat))
}

fn created(chat: Chat) -> Response {
    let location = HeaderValue::from_str(&format!("/api/v1/chats/{}", chat.id))
        .expect("a uuid path is a valid header");
    let mut response = (StatusCode::CREATED, Json(chat)).into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response
}

/// Read one of your chats.
#[utoipa::path(get, path = "/api/v1/chats/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = Chat), (status = 404, body = Problem)))]
pub(super) async fn get_chat(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Chat>, Problem> {
    Ok(Json(copilot.store().chat(&principal.user_id, id).await?))
}

/// Rename a chat, edit its persona or its memory balance; emits `miyagi.chat.updated.v1`.
#[utoipa::path(patch, path = "/api/v1/chats/{id}", tag = TAG, request_body = ChatSettings,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Chat), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn update_chat(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Path(id): Path<Uuid>,
    ValidJson(change): ValidJson<ChatSettings>,
) -> Result<Json<Chat>, Problem> {
    Ok(Json(
        copilot.update_chat(&principal.user_id, id, change).await?,
    ))
}

/// Delete a chat with its messages and its working memory; emits `miyagi.chat.deleted.v1`.
/// Long-term memories you stated in it stay until you delete them.
#[utoipa::path(delete, path = "/api/v1/chats/{id}", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub(super) async fn delete_chat(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Problem> {
    copilot.store().delete_chat(&principal.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct HistoryPage {
    /// Messages before this `seq` (the previous page's `nextCursor`); the newest when absent.
    before: Option<i64>,
    /// How many messages (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// A chat's history, a page at a time from the newest back; each page oldest first.
#[utoipa::path(get, path = "/api/v1/chats/{id}/messages", tag = TAG,
    params(("id" = Uuid, Path), HistoryPage),
    responses((status = 200, body = MessagePage), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn history(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(page): Query<HistoryPage>,
) -> Result<Json<MessagePage>, Problem> {
    let limit = in_range("limit", page.limit.unwrap_or(50), 1..=200)?;
    Ok(Json(
        copilot
            .store()
            .messages(&principal.user_id, id, page.before, limit)
            .await?,
    ))
}

/// The stored question and its answer, as the stream's last event carries them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Exchanged {
    question: Message,
    answer: Message,
}

/// Ask the coach. The answer is a `text/event-stream`: `delta` events (`{"text": "…"}`, the
/// answer's words as the model writes them), then one `message` event (`{"question", "answer"}`,
/// both as stored, the answer with its verified citations, the memories its prompt held and
/// its token usage) or one `problem` event. Emits `miyagi.chat.message.created.v1` for each;
/// memories are read from your message afterwards, off the reply's path. The answer is stored
/// even if you disconnect.
#[utoipa::path(post, path = "/api/v1/chats/{id}/messages", tag = TAG, request_body = NewMessage,
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "`text/event-stream` of `delta`, then `message` or `problem` events", content_type = "text/event-stream"),
              (status = 404, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub(super) async fn ask(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Path(id): Path<Uuid>,
    ValidJson(message): ValidJson<NewMessage>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    // An unknown chat is a 404, not a stream that fails.
    copilot.store().chat(&principal.user_id, id).await?;
    let (deltas, words) = tokio::sync::mpsc::unbounded_channel();
    let (done, outcome) = tokio::sync::oneshot::channel();
    // Its own task, so the answer is finished and stored even if the caller goes away.
    tokio::spawn(async move {
        let result = copilot
            .reply(&principal.user_id, id, &message.content, Some(deltas))
            .await;
        let _ = done.send(result);
    });
    let words = futures::stream::unfold(words, |mut words| async move {
        let text = words.recv().await?;
        let event = Event::default()
            .event("delta")
            .data(serde_json::json!({ "text": text }).to_string());
        Some((event, words))
    });
    let last = futures::stream::once(async move {
        let (name, data) = match outcome.await {
            Ok(Ok(exchange)) => (
                "message",
                serde_json::to_value(Exchanged {
                    question: exchange.question,
                    answer: exchange.answer,
                }),
            ),
            Ok(Err(e)) => ("problem", serde_json::to_value(Problem::from(e))),
            Err(_) => (
                "problem",
                serde_json::to_value(Problem::internal("the answer's task ended early")),
            ),
        };
        let data = data.unwrap_or_else(|e| serde_json::json!({ "detail": e.to_string() }));
        Event::default().event(name).data(data.to_string())
    });
    Ok(Sse::new(words.chain(last).map(Ok)).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PromptQuestion {
    /// The question whose prompt to show (1–4000 characters).
    #[param(min_length = 1, max_length = 4000, pattern = r"\S")]
    question: String,
}

/// The prompt a question would get in this chat now: each part (instructions, persona, your
/// figures, memories, passages, history, question) with its tokens and budget, and the
/// messages as the model would read them. Nothing is sent to the model.
#[utoipa::path(get, path = "/api/v1/chats/{id}/prompt", tag = TAG,
    params(("id" = Uuid, Path), PromptQuestion),
    responses((status = 200, body = PromptView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn prompt_view(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(query): Query<PromptQuestion>,
) -> Result<Json<PromptView>, Problem> {
    let question = query.question.trim();
    if question.is_empty() || query.question.chars().count() as u64 > MAX_QUESTION_CHARS {
        return Err(Problem::invalid_fields(vec![FieldError {
            field: "question".into(),
            message: format!("must be 1 to {MAX_QUESTION_CHARS} characters"),
        }]));
    }
    Ok(Json(
        copilot
            .prompt_view(&principal.user_id, id, question)
            .await?,
    ))
}

/// A chat as JSON: its title, persona, memory balance and every message with its citations.
#[utoipa::path(get, path = "/api/v1/chats/{id}/export", tag = TAG, params(("id" = Uuid, Path)),
    responses((status = 200, body = ChatExport), (status = 404, body = Problem)))]
pub(super) async fn export_chat(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<ChatExport>, Problem> {
    let store = copilot.store();
    let chat = store.chat(&principal.user_id, id).await?;
    let mut messages = Vec::new();
    let mut before = None;
    loop {
        let page = store.messages(&principal.user_id, id, before, 200).await?;
        messages.splice(0..0, page.messages);
        match page.next_cursor {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
    }
    Ok(Json(ChatExport {
        title: chat.title,
        persona: chat.persona,
        memory_balance: chat.memory_balance,
        messages: messages
            .into_iter()
            .map(|m| ExportedMessage {
                author: m.author,
                content: m.content,
                citations: m.citations,
                created_at: m.created_at,
            })
            .collect(),
    }))
}

/// A chat from an export, as a new chat of yours; emits its events like any chat, so memories
/// are read from its messages too.
#[utoipa::path(post, path = "/api/v1/chats/import", tag = TAG, request_body = ChatExport,
    responses((status = 201, body = Chat, headers(("Location"))), (status = 422, body = Problem)))]
pub(super) async fn import_chat(
    State(copilot): State<Arc<Copilot>>,
    principal: Principal,
    ValidJson(export): ValidJson<ChatExport>,
) -> Result<Response, Problem> {
    let chat = copilot
        .store()
        .import_chat(&principal.user_id, &export)
        .await?;
    Ok(created(chat))
}
