//! Request statistics: the access-log layer hands every finished request to
//! the [`RequestStats`] the server was given. The HTTP platform defines the
//! question; the perf feature answers it (per-route histograms, the
//! `/metrics` request families, the slowest requests), so the platform
//! knows no statistics.

use std::time::Duration;

use actix_web::HttpRequest;

/// A finished request, as the access-log layer reports it.
pub struct Finished<'a> {
    /// The route pattern (`/checks/{id}`), or `unmatched`.
    pub route: &'a str,
    pub method: &'a str,
    pub status: u16,
    pub elapsed: Duration,
    /// For what is read only now and then (the request id and the path of
    /// a slow request).
    pub request: &'a HttpRequest,
}

pub trait RequestStats: Send + Sync + 'static {
    /// Counts a finished request. Called for every response: must be cheap
    /// and must not block.
    fn record(&self, finished: &Finished<'_>);
}
