//! The example HTTP service (examples/http_service) end to end on 127.0.0.1: the seed's flows
//! over HTTP/JSON, its errors as statuses, and the async notification stream with its overflow
//! policy.

#[path = "../examples/http_service/routes.rs"]
mod routes;

use receipt_engine::asynchronous::{AsyncEngine, Overflowed};
use receipt_engine::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request on a fresh connection; the status and the JSON body.
async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status: u16 = response[9..12].parse().unwrap();
    let json = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| serde_json::from_str(b).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    (status, json)
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
