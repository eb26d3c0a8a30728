#![deny(warnings)]

//! A flash value through a real router: set in one request, shown once by the next, gone
//! in the one after; peeking through a read-only session does not take it; reading removes
//! the stored field (not stores the default).

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::{header, Request, Response};
use session_runtime::{MemoryStore, ReadSession, Session, SessionLayer};
use tower::ServiceExt;

#[derive(Session)]
pub struct Ui {
    count: u64,
    #[session(flash)]
    notice: Option<String>,
}

/// The same stored field with a default that tells "not stored" from "stored as `null`".
#[derive(Session)]
pub struct Raw {
    #[session(default = absent)]
    notice: Option<String>,
}

fn absent() -> Option<String> {
    Some("absent".to_owned())
}

async fn body(res: Response<Body>) -> String {
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = Router::new()
        .route(
            "/save",
            get(|mut ui: Session<Ui>| async move {
                *ui.count_mut() += 1;
                ui.set_notice(Some("saved".to_owned()));
            }),
        )
        .route(
            "/peek",
            get(|ui: ReadSession<Ui>| async move { format!("{:?}", ui.peek_notice()) }),
        )
        .route(
            "/raw",
            get(|raw: ReadSession<Raw>| async move { format!("{:?}", raw.notice()) }),
        )
        .route(
            "/show",
            get(|mut ui: Session<Ui>| async move {
                let notice = ui.notice();
                assert!(ui.is_notice_dirty() && ui.notice().is_none());
                format!("{notice:?}")
            }),
        )
        .layer(SessionLayer::new(MemoryStore::new()).with_secure(false));

    let res = app
        .clone()
        .oneshot(Request::get("/save").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let set_cookie = res.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let get = |path: &'static str| {
        let app = app.clone();
        let cookie = cookie.clone();
        async move {
            let req = Request::get(path).header(header::COOKIE, cookie);
            body(app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()).await
        }
    };
    assert_eq!(get("/peek").await, "Some(\"saved\")");
    assert_eq!(
        get("/peek").await,
        "Some(\"saved\")",
        "peeking takes nothing"
    );
    assert_eq!(get("/raw").await, "Some(\"saved\")");
    assert_eq!(get("/show").await, "Some(\"saved\")");
    assert_eq!(get("/show").await, "None", "a flash value is shown once");
    assert_eq!(get("/peek").await, "None");
    assert_eq!(
        get("/raw").await,
        "Some(\"absent\")",
        "the field was removed"
    );
}
