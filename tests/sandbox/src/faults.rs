//! Fault switches every emulator carries, settable at run time per endpoint: an error status
//! (429 with `Retry-After`, 5xx), a hang (the request is held until the client gives up), or a
//! truncated body (the real answer cut in half, as a dropped connection leaves it). A switch
//! matches a method (or any) and a path fragment, and fires a number of times (or until
//! cleared). Faults sit in front of everything else, authentication included, as a proxy or
//! load balancer in front of the real service would fail.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What a switch does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `code` (with `Retry-After` when given) without reaching the service.
    Status { code: u16, retry_after: Option<u64> },
    /// Hold the request without answering (for an hour: longer than any client waits).
    Hang,
    /// Let the service answer, then send only the first half of its body.
    Truncate,
    /// Answer `body` as JSON with `code`, whatever was asked (a service that changed, or a
    /// fuzzer's answers).
    Answer { code: u16, body: String },
}

#[derive(Debug, Clone)]
struct Switch {
    method: Option<String>,
    path: String,
    fault: Fault,
    /// How many more requests it fires on (`None`: until cleared).
    left: Option<u32>,
}

/// The switches of one emulator.
#[derive(Debug, Default)]
pub struct Faults {
    switches: Mutex<Vec<Switch>>,
    fired: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Faults {
    /// Fires `fault` on requests with `method` (`None`: any) whose path contains `path`,
    /// `times` times (`None`: until [`Faults::clear`]).
    pub fn set(&self, method: Option<&str>, path: &str, fault: Fault, times: Option<u32>) {
        lock(&self.switches).push(Switch {
            method: method.map(str::to_uppercase),
            path: path.to_string(),
            fault,
            left: times,
        });
    }

    /// Removes every switch.
    pub fn clear(&self) {
        lock(&self.switches).clear();
    }

    /// How many requests a switch has fired on so far.
    pub fn fired(&self) -> u64 {
        *lock(&self.fired)
    }

    /// The fault for a request, counting it down.
    fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut switches = lock(&self.switches);
        let i = switches.iter().position(|s| {
            s.method.as_deref().is_none_or(|m| m == method)
                && path.contains(&s.path)
                && s.left != Some(0)
        })?;
        let s = switches.get_mut(i)?;
        if let Some(n) = s.left.as_mut() {
            *n -= 1;
        }
        *lock(&self.fired) += 1;
        Some(s.fault.clone())
    }
}

/// The middleware: `router.layer(axum::middleware::from_fn_with_state(faults, inject))`.
pub async fn inject(State(faults): State<Arc<Faults>>, req: Request, next: Next) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    match faults.take(req.method().as_str(), &path) {
        None => next.run(req).await,
        Some(Fault::Status { code, retry_after }) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"message\":\"injected fault: HTTP {code}\"}}"),
            )
                .into_response();
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
        Some(Fault::Answer { code, body }) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Some(Fault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(Fault::Truncate) => {
            let resp = next.run(req).await;
            let (mut parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(half))
        }
    }
}

/// `app` behind `faults`.
pub fn layer(app: axum::Router, faults: &Arc<Faults>) -> axum::Router {
    app.layer(axum::middleware::from_fn_with_state(faults.clone(), inject))
}
