//! A chat backend's receipt service over HTTP/JSON, on tokio and axum, embedding the engine
//! through `AsyncEngine` (feature `tokio`).
//!
//! `cargo run --example http_service --features tokio -- [ADDR] [STORE]` (defaults:
//! `127.0.0.1:8080`, `./receipts-http`), then for example:
//!
//! ```text
//! curl -XPOST localhost:8080/messages -H 'content-type: application/json' \
//!      -d '{"conversation": {"direct": ["ann", "bob"]}, "sender": "ann"}'
//! curl localhost:8080/users/bob/unread
//! ```
//!
//! SIGTERM or Ctrl-C stops it: open requests finish, then the engine closes cleanly.
//!
//! tests/http_service.rs runs the seed's flows against it on 127.0.0.1.

mod routes;

use receipt_engine::asynchronous::AsyncEngine;
use receipt_engine::{EngineOptions, Policy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let store = args.next().unwrap_or_else(|| "./receipts-http".into());
    let options = EngineOptions::default().with_policy(Policy::all_receipts_on());
    let engine = AsyncEngine::open(&store, options).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "receipts over HTTP on {}, store {store}",
        listener.local_addr()?
    );
    routes::serve(listener, engine, stop_signal()).await?;
    println!("stopped; the store was closed cleanly");
    Ok(())
}

/// SIGTERM (what a service manager sends) or Ctrl-C.
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            // No handler could be installed: only Ctrl-C stops the service.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
