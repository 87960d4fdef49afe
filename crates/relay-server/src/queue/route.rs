//! Which operation a method and path name. Literal segments match case-insensitively, repeated
//! and trailing slashes are ignored, and ids must be hex (anything else is no route at all).

use http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    Root,
    Push,
    Pull,
    Ack(String),
    List,
    DeleteAll,
    Get(String),
    Update(String),
    Delete(String),
    GlobalWipe,
    HookInsert,
    HookWipe,
    HookUpdate,
    HookCount,
    NotFound,
}

impl Route {
    /// The route's label in the request-duration histogram, and the operation it counts in
    /// `relay_queue_messages_total` when it succeeds.
    pub(super) fn metric_names(&self) -> (&'static str, Option<&'static str>) {
        match self {
            Route::Push => ("queue_push", Some("push")),
            Route::Pull => ("queue_pull", Some("pull")),
            Route::Ack(_) => ("queue_ack", Some("ack")),
            Route::Root => ("queue_root", None),
            Route::List
            | Route::DeleteAll
            | Route::Get(_)
            | Route::Update(_)
            | Route::Delete(_) => ("queue_messages", None),
            _ => ("queue_other", None),
        }
    }

    pub(super) fn parse(method: &Method, path: &str, hooks: bool) -> Route {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let lit = |i: usize, name: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(name));
        let id = |i: usize| {
            segs.get(i)
                .filter(|s| relay_wire::queue::is_hex(s))
                .map(|s| s.to_string())
        };
        let m = method.clone();
        match segs.len() {
            0 if m == Method::GET => Route::Root,
            1 if lit(0, "messageQueue") && m == Method::POST => Route::Push,
            1 if lit(0, "messageQueue") && m == Method::GET => Route::Pull,
            3 if lit(0, "messageQueue") && lit(2, "ack") && m == Method::PATCH => {
                id(1).map_or(Route::NotFound, Route::Ack)
            }
            1 if lit(0, "messages") && m == Method::GET => Route::List,
            1 if lit(0, "messages") && m == Method::DELETE => Route::DeleteAll,
            2 if lit(0, "messages") => match id(1) {
                Some(id) if m == Method::GET => Route::Get(id),
                Some(id) if m == Method::PATCH => Route::Update(id),
                Some(id) if m == Method::DELETE => Route::Delete(id),
                _ => Route::NotFound,
            },
            1 if lit(0, "globalDataSpace") && m == Method::DELETE => Route::GlobalWipe,
            2 if hooks && lit(0, "__test__") && lit(1, "messages") && m == Method::POST => {
                Route::HookInsert
            }
            2 if hooks && lit(0, "__test__") && lit(1, "messages") && m == Method::DELETE => {
                Route::HookWipe
            }
            3 if hooks
                && lit(0, "__test__")
                && lit(1, "messages")
                && lit(2, "update")
                && m == Method::PATCH =>
            {
                Route::HookUpdate
            }
            3 if hooks
                && lit(0, "__test__")
                && lit(1, "messages")
                && lit(2, "count")
                && m == Method::GET =>
            {
                Route::HookCount
            }
            _ => Route::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            Route::parse(&Method::POST, "/messageQueue", false),
            Route::Push
        );
        assert_eq!(
            Route::parse(&Method::POST, "//MESSAGEQUEUE/", false),
            Route::Push
        );
        assert_eq!(
            Route::parse(&Method::PATCH, "/messageQueue/abc/ack", false),
            Route::Ack("abc".into())
        );
        assert_eq!(
            Route::parse(&Method::PATCH, "/messageQueue/xyz/ack", false),
            Route::NotFound
        );
        assert_eq!(
            Route::parse(&Method::GET, "/messages/ABC", false),
            Route::Get("ABC".into())
        );
        assert_eq!(
            Route::parse(&Method::PUT, "/messages/abc", false),
            Route::NotFound
        );
        assert_eq!(
            Route::parse(&Method::DELETE, "/globalDataSpace", false),
            Route::GlobalWipe
        );
        assert_eq!(
            Route::parse(&Method::GET, "/__test__/messages/count", false),
            Route::NotFound
        );
        assert_eq!(
            Route::parse(&Method::GET, "/__test__/messages/count", true),
            Route::HookCount
        );
        assert_eq!(
            Route::parse(&Method::GET, "/batches", false),
            Route::NotFound
        );
        assert_eq!(Route::parse(&Method::GET, "/", false), Route::Root);
    }
}
