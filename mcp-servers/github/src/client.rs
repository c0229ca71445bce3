//! The GitHub REST client: octocrab for auth, base URL, timeouts and models; raw responses so
//! rate-limit headers are honoured and every failure becomes a [`ToolError`] a model can act on.
//!
//! Primary limits: the last `x-ratelimit-remaining`/`x-ratelimit-reset` seen are remembered; with
//! no quota left a call is refused locally, saying when the quota resets. Secondary limits (403 or
//! 429 with `retry-after`): short waits are slept through (bounded), longer ones are reported.

use std::sync::Mutex;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use mcp_runtime::ToolError;
use mcp_runtime::sync::lock;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use serde_json::Value;

const SERVICE: &str = "github";

/// A GitHub API client for one token and base URL.
pub struct GitHub {
    octo: Octocrab,
    quota: Mutex<Option<(u64, i64)>>,
    max_wait: Duration,
}

/// A response body with the URL of the next page, if any.
pub struct Page<T> {
    pub items: T,
    pub next_page: Option<u32>,
}

/// Errors building the client.
#[derive(Debug, thiserror::Error)]
#[error("configuring the GitHub client: {0}")]
pub struct ClientError(String);

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn header<T: std::str::FromStr>(h: &HeaderMap, name: &str) -> Option<T> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Percent-encodes a query value or path segment (RFC 3986 unreserved characters kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `path?k=v&...` with empty values skipped.
pub fn with_query(path: &str, query: &[(&str, String)]) -> String {
    let q: Vec<String> = query
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

impl GitHub {
    /// A client for `base_url` (public GitHub or GitHub Enterprise Server `/api/v3`).
    /// No request is made here.
    pub fn new(
        base_url: &str,
        token: Option<String>,
        max_wait: Duration,
    ) -> Result<Self, ClientError> {
        let mut b = Octocrab::builder()
            .base_uri(base_url)
            .map_err(|e| ClientError(format!("GITHUB_API_URL `{base_url}`: {e}")))?
            // Retries are ours: octocrab's policy could sleep for an hour on a primary limit.
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)));
        if let Some(t) = token {
            b = b.personal_token(t);
        }
        let octo = b.build().map_err(|e| ClientError(e.to_string()))?;
        Ok(Self {
            octo,
            quota: Mutex::new(None),
            max_wait,
        })
    }

    /// GET a JSON resource.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ToolError> {
        Ok(self.send::<T>(Method::GET, path, None).await?.items)
    }

    /// GET one page of a list; `next_page` comes from the `Link` header.
    pub async fn page<T: DeserializeOwned>(&self, path: &str) -> Result<Page<T>, ToolError> {
        self.send(Method::GET, path, None).await
    }

    /// POST, PUT or PATCH a JSON body.
    pub async fn write<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<T, ToolError> {
        Ok(self.send(method, path, Some(body)).await?.items)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Page<T>, ToolError> {
        self.check_quota()?;
        let mut waited = Duration::ZERO;
        loop {
            let resp = match method {
                Method::GET => self.octo._get(path).await,
                Method::POST => self.octo._post(path, body).await,
                Method::PUT => self.octo._put(path, body).await,
                Method::PATCH => self.octo._patch(path, body).await,
                _ => {
                    return Err(ToolError::invalid(
                        "method",
                        format!("{method} is not used"),
                    ));
                }
            }
            .map_err(|e| ToolError::Unreachable {
                service: SERVICE,
                message: transport_message(&e),
            })?;
            let status = resp.status();
            let headers = resp.headers().clone();
            self.remember_quota(&headers);
            let text =
                self.octo
                    .body_to_string(resp)
                    .await
                    .map_err(|e| ToolError::Unreachable {
                        service: SERVICE,
                        message: format!("reading the response: {e}"),
                    })?;
            if status.is_success() {
                let items = serde_json::from_str(if text.is_empty() { "null" } else { &text })
                    .map_err(|e| {
                        mcp_runtime::error::parse_failure(SERVICE, status.as_u16(), path, &e)
                    })?;
                return Ok(Page {
                    items,
                    next_page: next_page(&headers),
                });
            }
            match self.classify(status, &headers, &text) {
                Failure::RetryAfter(wait) if waited + wait <= self.max_wait => {
                    tracing::info!(
                        wait_secs = wait.as_secs(),
                        "github secondary rate limit; waiting"
                    );
                    tokio::time::sleep(wait).await;
                    waited += wait.max(Duration::from_millis(1));
                }
                Failure::RetryAfter(wait) => {
                    return Err(ToolError::RateLimited {
                        service: SERVICE,
                        retry_after_secs: wait.as_secs().max(1),
                    });
                }
                Failure::Error(e) => return Err(e),
            }
        }
    }

    fn check_quota(&self) -> Result<(), ToolError> {
        let quota = *lock(&self.quota);
        match quota {
            Some((0, reset)) if reset > now() => Err(ToolError::RateLimited {
                service: SERVICE,
                retry_after_secs: (reset - now()) as u64,
            }),
            _ => Ok(()),
        }
    }

    fn remember_quota(&self, h: &HeaderMap) {
        if let (Some(remaining), Some(reset)) = (
            header::<u64>(h, "x-ratelimit-remaining"),
            header::<i64>(h, "x-ratelimit-reset"),
        ) {
            *lock(&self.quota) = Some((remaining, reset));
        }
    }

    fn classify(&self, status: StatusCode, h: &HeaderMap, body: &str) -> Failure {
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let mut message = parsed["message"]
            .as_str()
            .unwrap_or(body)
            .trim()
            .to_string();
        if let Some(errors) = parsed["errors"].as_array() {
            let details: Vec<String> = errors
                .iter()
                .map(|e| {
                    e["message"]
                        .as_str()
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .unwrap_or_else(|| {
                            format!(
                                "{} {}",
                                e["field"].as_str().unwrap_or(""),
                                e["code"].as_str().unwrap_or("")
                            )
                        })
                })
                .collect();
            if !details.is_empty() {
                message = format!("{message}: {}", details.join("; "));
            }
        }
        mcp_runtime::text::truncate(&mut message, 500);
        let limited = matches!(status.as_u16(), 403 | 429);
        if limited {
            if let Some(secs) = header::<u64>(h, "retry-after") {
                return Failure::RetryAfter(Duration::from_secs(secs));
            }
            if header::<u64>(h, "x-ratelimit-remaining") == Some(0) {
                let reset = header::<i64>(h, "x-ratelimit-reset").unwrap_or_else(now);
                return Failure::Error(ToolError::RateLimited {
                    service: SERVICE,
                    retry_after_secs: (reset - now()).max(1) as u64,
                });
            }
            if status.as_u16() == 429
                || message
                    .to_ascii_lowercase()
                    .contains("secondary rate limit")
            {
                // No header: GitHub documents waiting at least a minute.
                return Failure::RetryAfter(Duration::from_secs(60));
            }
        }
        Failure::Error(match status.as_u16() {
            401 => ToolError::Upstream {
                service: SERVICE,
                status: 401,
                message: format!(
                    "{message}: the token is missing, expired or revoked (GITHUB_PERSONAL_ACCESS_TOKEN)"
                ),
            },
            403 => ToolError::Upstream {
                service: SERVICE,
                status: 403,
                message: format!("{message} (the token lacks a permission or the feature is off)"),
            },
            404 => ToolError::NotFound(format!(
                "{message} (or the token cannot see it; check the repository name and the token's access)"
            )),
            409 => ToolError::Conflict(message),
            code => ToolError::Upstream {
                service: SERVICE,
                status: code,
                message,
            },
        })
    }
}

enum Failure {
    RetryAfter(Duration),
    Error(ToolError),
}

fn next_page(h: &HeaderMap) -> Option<u32> {
    let link = h.get("link")?.to_str().ok()?;
    link.split(',')
        .find(|part| part.contains("rel=\"next\""))
        .and_then(|part| {
            part.split(['?', '&', '>'])
                .find_map(|kv| kv.strip_prefix("page="))
        })
        .and_then(|p| p.parse().ok())
}

fn transport_message(e: &octocrab::Error) -> String {
    // octocrab's Display of a hyper error is short; the source chain says "connection refused".
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    mcp_runtime::text::truncate(&mut msg, 300);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_page_is_read_from_the_link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            "<https://api.github.com/repos/a/b/commits?per_page=2&page=3>; rel=\"next\", <https://api.github.com/repos/a/b/commits?page=9>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_page(&h), Some(3));
        assert_eq!(next_page(&HeaderMap::new()), None);
    }

    #[test]
    fn query_values_are_encoded_and_empty_ones_dropped() {
        let q = with_query(
            "/search/issues",
            &[("q", "repo:a/b is:pr".into()), ("page", String::new())],
        );
        assert_eq!(q, "/search/issues?q=repo%3Aa%2Fb%20is%3Apr");
    }
}
