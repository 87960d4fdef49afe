//! The web page for people in channels (`relay-web`'s embedded files), under `/app/`.
//!
//! A browser that opens `/` (a `GET` whose `Accept` names `text/html`) is redirected to `/app/`;
//! every other request to `/` is the queue face's, unchanged (queue clients never ask for HTML).
//! Every file is served with a strict Content-Security-Policy, a strong ETag (`If-None-Match`
//! gives 304) and `Cache-Control: no-cache`, gzip-compressed when the client accepts it.

use axum::extract::{Path, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

/// The page's path.
pub(crate) const PREFIX: &str = "/app/";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page's routes (stateless, so they merge into any router).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/app", get(|| async { Redirect::to(PREFIX) }))
        .route("/app/", get(|headers: HeaderMap| async move { serve("", &headers) }))
        .route(
            "/app/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
        )
}

/// Middleware: a browser's navigation to `/` goes to the page; everything else passes through.
pub(crate) async fn root_redirect(req: Request, next: Next) -> Response {
    if req.uri().path() == "/" && req.method() == Method::GET && wants_html(req.headers()) {
        return Redirect::to(PREFIX).into_response();
    }
    next.run(req).await
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().starts_with("text/html")))
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = relay_web::asset(path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "not found\n",
        )
            .into_response();
    };
    let mut out = HeaderMap::new();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    out.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        out.insert(header::ETAG, etag);
    }
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == asset.etag
        });
    if matches {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    let gzip_ok = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|e| e.trim().split(';').next() == Some("gzip"))
        });
    match (&asset.gzip, gzip_ok) {
        (Some(gz), true) => {
            out.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (out, gz.clone()).into_response()
        }
        _ => (out, asset.body).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn get(uri: &str, headers: &[(&str, &str)]) -> Response {
        let app: Router = routes::<()>()
            .fallback(|| async { "queue" })
            .layer(axum::middleware::from_fn(root_redirect));
        let mut req = Request::builder().uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn root_redirects_browsers_only() {
        let r = get(
            "/",
            &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[header::LOCATION], "/app/");
        let r = get("/", &[("accept", "*/*")]).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = get("/", &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn page_etag_gzip_and_404() {
        let r = get("/app/", &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        let etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
        let r = get("/app/", &[("if-none-match", &etag)]).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = get(
            "/app/vendor/preact-htm.js",
            &[("accept-encoding", "gzip, br")],
        )
        .await;
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        let r = get("/app/missing.js", &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}
