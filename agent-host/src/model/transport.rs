//! The HTTP layer under async-openai: a tower service around its reqwest transport that retries
//! 429/5xx and connection errors (waiting as long as the provider asked, else exponential
//! backoff with jitter) and keeps the circuit breaker. async-openai's own errors drop the
//! response headers, so the `Retry-After` decision has to be made here, where they are visible.

use mcp_runtime::sync::lock;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_openai::error::OpenAIError;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use tower::ServiceExt;

use super::breaker::Breaker;
use super::retry::{self, RetryPolicy};

/// The breaker is open: the provider failed repeatedly and the run should end now.
#[derive(Debug, thiserror::Error)]
#[error("model provider unavailable (circuit open for another {0:?}); not calling it")]
pub struct CircuitOpen(pub Duration);

/// The provider (or a gateway in front of it) still answered 429 or 5xx when the retries
/// ran out. Told apart here, where the status is visible: such a body need not be an OpenAI
/// error object, and async-openai would report it as a parse failure.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}: {body}")]
pub struct ProviderFault {
    pub status: u16,
    pub body: String,
}

/// What the transport observed, for metrics and tests.
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Every wait before a retry, in order.
    pub waits: Mutex<Vec<Duration>>,
    /// Requests sent (attempts, retries included).
    pub attempts: Mutex<u64>,
}

/// async-openai's reqwest service with retries and the breaker.
#[derive(Clone)]
pub struct RetryTransport {
    inner: ReqwestService,
    policy: RetryPolicy,
    breaker: Arc<Mutex<Breaker>>,
    stats: Arc<TransportStats>,
}

impl RetryTransport {
    /// A transport over `client`.
    pub fn new(
        client: reqwest::Client,
        policy: RetryPolicy,
        breaker: Arc<Mutex<Breaker>>,
        stats: Arc<TransportStats>,
    ) -> Self {
        Self {
            inner: ReqwestService::new(client),
            policy,
            breaker,
            stats,
        }
    }
}

type Fut = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

impl tower::Service<HttpRequestFactory> for RetryTransport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Fut;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequestFactory) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            if let Err(left) = lock(&this.breaker).allow(Instant::now()) {
                return Err(OpenAIError::Boxed(Box::new(CircuitOpen(left))));
            }
            let mut attempt = 0;
            loop {
                *lock(&this.stats.attempts) += 1;
                let result = this.inner.clone().oneshot(req.clone()).await;
                let wait = match &result {
                    Ok(resp) if retry::retryable(resp.status()) => {
                        Some(retry::provider_wait(resp.headers()).unwrap_or_else(|| {
                            retry::backoff(&this.policy, attempt, retry::jitter())
                        }))
                    }
                    Ok(_) => None,
                    Err(OpenAIError::Reqwest(e))
                        if e.is_connect() || e.is_timeout() || e.is_request() =>
                    {
                        Some(retry::backoff(&this.policy, attempt, retry::jitter()))
                    }
                    Err(_) => None,
                };
                let failed = wait.is_some();
                match wait {
                    Some(w) if attempt < this.policy.max_retries && w <= this.policy.max_wait => {
                        lock(&this.breaker).failure(Instant::now());
                        lock(&this.stats.waits).push(w);
                        tracing::warn!(
                            attempt,
                            wait_ms = w.as_millis() as u64,
                            "model request failed; retrying"
                        );
                        tokio::time::sleep(w).await;
                        attempt += 1;
                        if let Err(left) = lock(&this.breaker).allow(Instant::now()) {
                            return Err(OpenAIError::Boxed(Box::new(CircuitOpen(left))));
                        }
                    }
                    _ => {
                        {
                            let mut b = lock(&this.breaker);
                            if failed {
                                b.failure(Instant::now())
                            } else {
                                b.success()
                            }
                        }
                        return match result {
                            Ok(resp) if retry::retryable(resp.status()) => {
                                let status = resp.status().as_u16();
                                let body = resp.text().await.unwrap_or_default();
                                Err(OpenAIError::Boxed(Box::new(ProviderFault {
                                    status,
                                    body: mcp_runtime::text::prefix(&body, 300).to_string(),
                                })))
                            }
                            other => other,
                        };
                    }
                }
            }
        })
    }
}
