//! The routes of the example HTTP service: the seed's flows as JSON over HTTP, on the
//! `AsyncEngine`. Shared with its end-to-end test (tests/http_service.rs).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use receipt_engine::asynchronous::AsyncEngine;
use receipt_engine::uuid::Uuid;
use receipt_engine::*;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// A conversation in a request body: `{"direct": ["ann", "bob"]}` or `{"group": "team"}`.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum ConversationRef {
    /// A direct chat between two users.
    Direct([String; 2]),
    /// A group chat.
    Group(String),
}

impl ConversationRef {
    fn id(&self) -> Result<ConversationId, ApiError> {
        Ok(match self {
            Self::Direct([a, b]) => ConversationId::direct(UserId::new(a)?, UserId::new(b)?)?,
            Self::Group(g) => ConversationId::Group(GroupId::new(g)?),
        })
    }
}

/// An error as an HTTP status and a JSON body `{"error": kind, "message": text}`: the
/// engine's refusals and the framework's (a body that is not JSON, a bad path or query, an
/// unknown route) alike.
pub struct ApiError(StatusCode, String, String);

impl<E: Into<EngineError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        let e = e.into();
        let status = match &e {
            EngineError::InvalidInput(_)
            | EngineError::Query(QueryError::InvalidInput(_))
            | EngineError::Rejected(DomainError::InvalidInput(_)) => StatusCode::BAD_REQUEST,
            // The same on a command and on a query.
            EngineError::Query(QueryError::UnknownMessage(_))
            | EngineError::Rejected(DomainError::UnknownMessage(_)) => StatusCode::NOT_FOUND,
            EngineError::Query(QueryError::Forbidden { .. })
            | EngineError::Query(QueryError::NotARecipient { .. }) => StatusCode::FORBIDDEN,
            EngineError::Query(QueryError::MessageRecalled(_)) => StatusCode::GONE,
            // Asked of a message that cannot answer it (sent without group receipts), or a
            // rule of the spec refused the command.
            EngineError::Query(_) | EngineError::Rejected(_) => StatusCode::CONFLICT,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError(status, e.kind().to_string(), e.to_string())
    }
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self(status, kind.to_string(), message.into())
    }
}

/// A JSON body whose refusals (not JSON, not `application/json`, too large, a field missing,
/// unknown or of the wrong type) are JSON errors too, with axum's status (400, 413, 415, 422).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => {
                let kind = match &rejection {
                    JsonRejection::JsonDataError(_) => "InvalidBody",
                    JsonRejection::JsonSyntaxError(_) => "NotJson",
                    JsonRejection::MissingJsonContentType(_) => "NotJsonContentType",
                    JsonRejection::BytesRejection(_) => "BodyUnreadable",
                    _ => "BadBody",
                };
                Err(ApiError::new(
                    rejection.status(),
                    kind,
                    rejection.body_text(),
                ))
            }
        }
    }
}

/// Path parameters, refused (a malformed message id, say) as a JSON 400.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(r) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidPath",
                r.body_text(),
            )),
        }
    }
}

/// Query parameters, refused (a missing `as`, an unknown parameter) as a JSON 400.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(r) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidQuery",
                r.body_text(),
            )),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1, "message": self.2 }))).into_response()
    }
}

type Reply = Result<Json<Value>, ApiError>;

fn outcome(o: &Outcome) -> Value {
    json!({
        "events": o.events.len(),
        "first_position": o.first_position,
        "note": o.note.map(|n| n.to_string()),
        "repeated": o.repeated,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Join {
    user: String,
    role: String,
}

async fn join(
    State(e): State<AsyncEngine>,
    Path(group): Path<String>,
    Body(b): Body<Join>,
) -> Reply {
    let role = match b.role.as_str() {
        "owner" => Role::Owner,
        "admin" => Role::Admin,
        "member" => Role::Member,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "UnknownRole",
                format!("role {other:?}: expected \"owner\", \"admin\" or \"member\""),
            ))
        }
    };
    let kind = CommandKind::JoinGroup {
        group: GroupId::new(group)?,
        user: UserId::new(b.user)?,
        role,
    };
    Ok(Json(outcome(&e.execute(kind).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    conversation: ConversationRef,
    sender: String,
    #[serde(default)]
    group_acks: bool,
}

async fn send(State(e): State<AsyncEngine>, Body(b): Body<SendBody>) -> Reply {
    let message = MessageId(Uuid::now_v7());
    let kind = CommandKind::SendMessage {
        conversation: b.conversation.id()?,
        message,
        sender: UserId::new(b.sender)?,
        needs_group_ack: b.group_acks,
    };
    let mut reply = outcome(&e.execute(kind).await?);
    reply["message"] = json!(message.0);
    Ok(Json(reply))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct By {
    by: String,
}

/// `delivered`, `read-ack`, `group-read-ack` or `mark-read` of one message.
async fn on_message(
    State(e): State<AsyncEngine>,
    Path((id, what)): Path<(Uuid, String)>,
    Body(b): Body<By>,
) -> Reply {
    let (message, user) = (MessageId(id), UserId::new(b.by)?);
    let kind = match what.as_str() {
        "delivered" => CommandKind::Deliver {
            message,
            recipient: user,
        },
        "read-ack" => CommandKind::AckMessageRead {
            message,
            reader: user,
        },
        "group-read-ack" => CommandKind::AckGroupMessageRead {
            message,
            reader: user,
        },
        "mark-read" => CommandKind::MarkMessageRead {
            message,
            reader: user,
        },
        _ => return Err(ApiError::new(StatusCode::NOT_FOUND, "NoSuchRoute", what)),
    };
    Ok(Json(outcome(&e.execute(kind).await?)))
}

/// The reader opened the direct chat with `peer`: a conversation read receipt.
async fn read_direct(
    State(e): State<AsyncEngine>,
    Path((reader, peer)): Path<(String, String)>,
) -> Reply {
    let (reader, peer) = (UserId::new(reader)?, UserId::new(peer)?);
    let conversation = ConversationId::direct(reader.clone(), peer)?;
    let kind = CommandKind::AckConversationRead {
        conversation,
        reader,
    };
    Ok(Json(outcome(&e.execute(kind).await?)))
}

async fn unread(State(e): State<AsyncEngine>, Path(user): Path<String>) -> Reply {
    let user = UserId::new(user)?;
    let engine = e.engine();
    let conversations: Vec<Value> = engine
        .conversations(&user)?
        .into_iter()
        .map(|c| json!({ "conversation": c.conversation.to_string(), "unread": c.unread }))
        .collect();
    // A user nothing was recorded for has nothing unread (200, badge 0), as in the library;
    // `known` says whether anything was ever recorded for them (`Engine::knows_user`).
    let known = !conversations.is_empty();
    // The badge counts each conversation as its notification mode says, so it is not always
    // the sum of the list's counts: its parts are given too.
    let badge = engine.badge(&user)?;
    Ok(Json(
        json!({ "badge": badge.unread, "badge_parts": badge, "conversations": conversations, "known": known }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Viewer {
    #[serde(rename = "as")]
    viewer: String,
}

async fn status(
    State(e): State<AsyncEngine>,
    Path(id): Path<Uuid>,
    Query(v): Query<Viewer>,
) -> Reply {
    let status = e
        .engine()
        .message_status(&UserId::new(v.viewer)?, MessageId(id))?;
    Ok(Json(serde_json::to_value(status).unwrap_or(Value::Null)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadersPage {
    #[serde(rename = "as")]
    viewer: String,
    /// Where the page starts: the `next` of the page before.
    #[serde(default)]
    after: Option<u32>,
    /// Readers per page, 1 to `MAX_ACK_PAGE_SIZE` (its default).
    #[serde(default)]
    limit: Option<u32>,
}

/// One page of a group message's readers; `next` is where the following page starts (`null`
/// at the end of the list as it is now).
async fn readers(
    State(e): State<AsyncEngine>,
    Path(id): Path<Uuid>,
    Query(q): Query<ReadersPage>,
) -> Reply {
    let page = e.engine().fetch_group_acks(
        &UserId::new(q.viewer)?,
        MessageId(id),
        q.after.map(AckCursor),
        q.limit.unwrap_or(MAX_ACK_PAGE_SIZE),
    )?;
    let readers: Vec<Value> = page
        .entries
        .iter()
        .map(|r| json!({ "reader": r.reader, "at_ms": r.at_ms }))
        .collect();
    Ok(Json(
        json!({ "readers": readers, "next": page.next.map(|c| c.0) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Since {
    #[serde(default)]
    from: u64,
}

/// Notifications from a position on: how a client catches up (and, polled, follows).
async fn notifications(State(e): State<AsyncEngine>, Query(f): Query<Since>) -> Reply {
    let list: Vec<Value> = e
        .engine()
        .notifications_since(f.from)?
        .into_iter()
        .map(|p| json!({ "position": p.position, "to": p.notification.to, "kind": p.notification.kind }))
        .collect();
    Ok(Json(json!({ "notifications": list })))
}

/// Serves `engine` on `listener` until `shutdown` resolves (main passes SIGTERM or Ctrl-C),
/// lets the open connections finish, then closes the engine cleanly (its last checkpoint and
/// flush) and returns any failure of either.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: AsyncEngine,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let closer = engine.clone();
    axum::serve(listener, router(engine))
        .with_graceful_shutdown(shutdown)
        .await?;
    // Every connection has finished: the router's handles of the engine are gone.
    closer.close().await?;
    Ok(())
}

/// The service's routes over `engine`.
pub fn router(engine: AsyncEngine) -> Router {
    Router::new()
        .route("/groups/{group}/members", post(join))
        .route("/messages", post(send))
        .route("/messages/{id}/{what}", post(on_message))
        .route("/messages/{id}/status", get(status))
        .route("/messages/{id}/readers", get(readers))
        .route("/users/{reader}/direct/{peer}/read", post(read_direct))
        .route("/users/{user}/unread", get(unread))
        .route("/notifications", get(notifications))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "NoSuchRoute", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "this route takes another method",
            )
        })
        .with_state(engine)
}
