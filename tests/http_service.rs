//! The example HTTP service (examples/http_service) end to end on 127.0.0.1: the seed's flows
//! over HTTP/JSON, its errors as statuses, and the async notification stream with its overflow
//! policy.

#[path = "../examples/http_service/routes.rs"]
mod routes;

use receipt_engine::asynchronous::{AsyncEngine, Overflowed};
use receipt_engine::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request on a fresh connection with a JSON body; the status and the JSON body.
async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    call_raw(addr, method, path, "application/json", &body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_flows_over_http_with_async_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let engine = AsyncEngine::open(
        dir.path(),
        EngineOptions::default().with_policy(Policy::all_receipts_on()),
    )
    .await
    .unwrap();
    let (start, mut live) = engine.subscribe(1_000);
    let (_, mut slow) = engine.subscribe(1);
    let ann = receipt_engine::UserId::new("ann").unwrap();
    let (_, mut to_ann) = engine.subscribe_user(&ann, 1_000);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = routes::router(engine.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    // Direct chat: send, deliver, read receipt.
    let (s, sent) = call(
        addr,
        "POST",
        "/messages",
        Some(json!({"conversation": {"direct": ["ann", "bob"]}, "sender": "ann"})),
    )
    .await;
    assert_eq!(s, 200, "{sent}");
    let m = sent["message"].as_str().unwrap().to_string();
    let (_, unread) = call(addr, "GET", "/users/bob/unread", None).await;
    assert_eq!(unread["badge"], 1);
    assert_eq!(unread["conversations"][0]["conversation"], "direct:ann+bob");
    assert_eq!(unread["known"], true);
    // A user nothing was recorded for: nothing unread, as in the library, and said so.
    let (status, nobody) = call(addr, "GET", "/users/nobody/unread", None).await;
    assert_eq!(status, 200, "{nobody}");
    assert_eq!(nobody["badge"], 0);
    assert_eq!(nobody["known"], false);
    assert_eq!(
        call(
            addr,
            "POST",
            &format!("/messages/{m}/delivered"),
            Some(json!({"by": "bob"}))
        )
        .await
        .0,
        200
    );
    let (_, status) = call(addr, "GET", &format!("/messages/{m}/status?as=ann"), None).await;
    assert_eq!(status["has_deliver_ack"], true);
    assert_eq!(status["has_read_ack"], false);
    assert_eq!(
        call(
            addr,
            "POST",
            &format!("/messages/{m}/read-ack"),
            Some(json!({"by": "bob"}))
        )
        .await
        .0,
        200
    );
    let (_, status) = call(addr, "GET", &format!("/messages/{m}/status?as=ann"), None).await;
    assert_eq!(status["has_read_ack"], true);
    assert_eq!(
        call(addr, "GET", "/users/bob/unread", None).await.1["badge"],
        0
    );

    // Conversation read receipt: two more messages, one receipt for both.
    for _ in 0..2 {
        call(
            addr,
            "POST",
            "/messages",
            Some(json!({"conversation": {"direct": ["bob", "ann"]}, "sender": "ann"})),
        )
        .await;
    }
    assert_eq!(
        call(addr, "GET", "/users/bob/unread", None).await.1["badge"],
        2
    );
    assert_eq!(
        call(addr, "POST", "/users/bob/direct/ann/read", None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(addr, "GET", "/users/bob/unread", None).await.1["badge"],
        0
    );

    // Group read receipts: visible to the sender only.
    for (user, role) in [("ann", "owner"), ("bob", "member"), ("cat", "member")] {
        let (s, body) = call(
            addr,
            "POST",
            "/groups/team/members",
            Some(json!({"user": user, "role": role})),
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
    let (_, sent) = call(
        addr,
        "POST",
        "/messages",
        Some(json!({"conversation": {"group": "team"}, "sender": "ann", "group_acks": true})),
    )
    .await;
    assert_eq!(sent["note"], Value::Null, "receipts accepted: {sent}");
    let g = sent["message"].as_str().unwrap().to_string();
    for reader in ["bob", "cat"] {
        assert_eq!(
            call(
                addr,
                "POST",
                &format!("/messages/{g}/group-read-ack"),
                Some(json!({"by": reader}))
            )
            .await
            .0,
            200
        );
    }
    let (s, readers) = call(addr, "GET", &format!("/messages/{g}/readers?as=ann"), None).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = readers["readers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reader"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "cat"]);
    assert_eq!(
        call(addr, "GET", &format!("/messages/{g}/readers?as=bob"), None)
            .await
            .0,
        403
    );

    // Errors: a rule (409), an unknown message (404), a malformed id (400); nothing changes.
    let (s, err) = call(
        addr,
        "POST",
        &format!("/messages/{g}/delivered"),
        Some(json!({"by": "bob"})),
    )
    .await;
    assert_eq!(
        (s, err["error"].as_str()),
        (409, Some("GroupDeliveryUnsupported"))
    );
    let unknown = "0190a0b0-0000-7000-8000-000000000000";
    assert_eq!(
        call(
            addr,
            "GET",
            &format!("/messages/{unknown}/status?as=ann"),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(call(addr, "GET", "/users/a%07b/unread", None).await.0, 400);

    // Every notification arrived on the async stream, in log order, as the log recomputes them.
    let (_, caught_up) = call(addr, "GET", &format!("/notifications?from={start}"), None).await;
    let expected = caught_up["notifications"].as_array().unwrap().len();
    assert!(expected >= 6, "{caught_up}");
    let recomputed = engine.engine().notifications_since(start).unwrap();
    let mut received = Vec::new();
    while received.len() < recomputed.len() {
        received.push(live.next().await.unwrap().unwrap());
    }
    assert_eq!(received, recomputed);

    // Ann's own stream: exactly the notifications addressed to her, in the same order.
    let for_ann: Vec<_> = recomputed
        .iter()
        .filter(|n| n.notification.to == ann)
        .cloned()
        .collect();
    assert!(!for_ann.is_empty());
    let mut got = Vec::new();
    while got.len() < for_ann.len() {
        got.push(to_ann.next().await.unwrap().unwrap());
    }
    assert_eq!(got, for_ann);

    // The subscriber that never read fell behind: it gets what fit, then where to resume.
    let first = slow.next().await.unwrap().unwrap();
    assert_eq!(first, recomputed[0]);
    match slow.next().await {
        Some(Err(Overflowed { resume_from })) => assert_eq!(resume_from, recomputed[1].position),
        other => panic!("expected an overflow, got {other:?}"),
    }
    server.abort();
}

/// One request with a chosen content type and a raw body; the status and the JSON body.
async fn call_raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // A body the server refuses early may not be read whole: a failed write is fine.
    let _ = stream.write_all(body.as_bytes()).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status: u16 = response[9..12].parse().unwrap();
    let json = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| serde_json::from_str(b).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_json_with_its_own_kind_and_a_stop_closes_the_store_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let engine = AsyncEngine::open(
        dir.path(),
        EngineOptions::default().with_policy(Policy::all_receipts_on()),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(routes::serve(listener, engine, async {
        let _ = stopped.await;
    }));
    let kind = |v: &Value| v["error"].as_str().unwrap_or("").to_string();

    // The framework's refusals, as JSON with a kind.
    let (s, v) = call_raw(addr, "POST", "/messages", "application/json", "not json").await;
    assert_eq!((s, kind(&v).as_str()), (400, "NotJson"), "{v}");
    let (s, v) = call_raw(addr, "POST", "/messages", "text/plain", "{}").await;
    assert_eq!((s, kind(&v).as_str()), (415, "NotJsonContentType"), "{v}");
    let (s, v) = call_raw(
        addr,
        "POST",
        "/messages",
        "application/json",
        r#"{"sender":"ann"}"#,
    )
    .await;
    assert_eq!((s, kind(&v).as_str()), (422, "InvalidBody"), "{v}");
    let huge = format!(r#"{{"sender":"{}"}}"#, "a".repeat(3 << 20));
    let (s, v) = call_raw(addr, "POST", "/messages", "application/json", &huge).await;
    assert_eq!((s, kind(&v).as_str()), (413, "BodyUnreadable"), "{v}");
    let (s, v) = call(addr, "GET", "/nowhere", None).await;
    assert_eq!((s, kind(&v).as_str()), (404, "NoSuchRoute"), "{v}");
    let (s, v) = call(addr, "DELETE", "/messages", None).await;
    assert_eq!((s, kind(&v).as_str()), (405, "MethodNotAllowed"), "{v}");
    let (s, v) = call(addr, "GET", "/messages/not-a-uuid/status?as=ann", None).await;
    assert_eq!((s, kind(&v).as_str()), (400, "InvalidPath"), "{v}");

    // A group with three readers of one message, and a direct message.
    for (user, role) in [
        ("ann", "owner"),
        ("bob", "member"),
        ("cat", "member"),
        ("dan", "admin"),
    ] {
        let (s, body) = call(
            addr,
            "POST",
            "/groups/team/members",
            Some(json!({"user": user, "role": role})),
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
    let (s, v) = call(
        addr,
        "POST",
        "/groups/team/members",
        Some(json!({"user": "eve", "role": "emperor"})),
    )
    .await;
    assert_eq!((s, kind(&v).as_str()), (400, "UnknownRole"), "{v}");
    assert_eq!(
        call(addr, "GET", "/users/eve/unread", None).await.1["known"],
        false,
        "eve did not join"
    );
    let (_, sent) = call(
        addr,
        "POST",
        "/messages",
        Some(json!({"conversation": {"group": "team"}, "sender": "ann", "group_acks": true})),
    )
    .await;
    let g = sent["message"].as_str().unwrap().to_string();
    for reader in ["bob", "cat", "dan"] {
        let (s, v) = call(
            addr,
            "POST",
            &format!("/messages/{g}/group-read-ack"),
            Some(json!({"by": reader})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, direct) = call(
        addr,
        "POST",
        "/messages",
        Some(json!({"conversation": {"direct": ["ann", "bob"]}, "sender": "ann"})),
    )
    .await;
    let d = direct["message"].as_str().unwrap().to_string();

    // The engine's refusals, told apart.
    let (s, v) = call(addr, "GET", &format!("/messages/{g}/status"), None).await;
    assert_eq!((s, kind(&v).as_str()), (400, "InvalidQuery"), "{v}");
    let unknown = "0190a0b0-0000-7000-8000-000000000000";
    let (s, v) = call(
        addr,
        "POST",
        &format!("/messages/{unknown}/read-ack"),
        Some(json!({"by": "bob"})),
    )
    .await;
    assert_eq!(
        (s, kind(&v).as_str()),
        (404, "UnknownMessage"),
        "a command: {v}"
    );
    let (s, v) = call(
        addr,
        "GET",
        &format!("/messages/{unknown}/status?as=ann"),
        None,
    )
    .await;
    assert_eq!(
        (s, kind(&v).as_str()),
        (404, "UnknownMessage"),
        "a query: {v}"
    );
    let (s, v) = call(addr, "GET", &format!("/messages/{g}/readers?as=bob"), None).await;
    assert_eq!((s, kind(&v).as_str()), (403, "Forbidden"), "{v}");
    let (s, v) = call(addr, "GET", &format!("/messages/{d}/readers?as=ann"), None).await;
    assert_eq!((s, kind(&v).as_str()), (409, "GroupAckNotRequested"), "{v}");

    // Readers in pages.
    let (s, first) = call(
        addr,
        "GET",
        &format!("/messages/{g}/readers?as=ann&limit=2"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["readers"].as_array().unwrap().len(), 2);
    let next = first["next"].as_u64().expect("a next page");
    let (_, second) = call(
        addr,
        "GET",
        &format!("/messages/{g}/readers?as=ann&limit=2&after={next}"),
        None,
    )
    .await;
    let names: Vec<&str> = first["readers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["readers"].as_array().unwrap())
        .map(|r| r["reader"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "cat", "dan"]);
    assert_eq!(second["next"], Value::Null, "the end of the list");

    // Notifications are JSON, not Rust's Debug text.
    let (_, n) = call(addr, "GET", "/notifications?from=0", None).await;
    let kinds: Vec<&Value> = n["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["kind"])
        .collect();
    assert!(!kinds.is_empty());
    assert!(
        kinds.iter().all(|k| k.is_object() || k.is_string()),
        "{kinds:?}"
    );

    // Stopping (what SIGTERM does in main): requests finish, then the engine closes cleanly.
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let reopened = Engine::open_read_only(dir.path(), EngineOptions::default())
        .expect("closed cleanly: a read-only open needs no recovery");
    assert_eq!(
        reopened
            .unread_count(
                &UserId::new("bob").unwrap(),
                &ConversationId::direct(UserId::new("ann").unwrap(), UserId::new("bob").unwrap())
                    .unwrap()
            )
            .unwrap(),
        1
    );
}
