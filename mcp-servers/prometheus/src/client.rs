//! HTTP clients of the Prometheus API (`/api/v1`, its `{"status": ...}` envelope and
//! `errorType`s) and the Alertmanager API (`/api/v2`), with bearer or basic auth.

use std::time::Duration;

use mcp_runtime::ToolError;
use reqwest::StatusCode;
use serde_json::Value;

/// How a request authenticates.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Bearer(String),
    Basic {
        user: String,
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    // Never the secret itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("none"),
            Auth::Bearer(_) => f.write_str("bearer"),
            Auth::Basic { user, .. } => write!(f, "basic ({user})"),
        }
    }
}

impl Auth {
    /// From `{PREFIX}_TOKEN`, else `{PREFIX}_USERNAME` and `{PREFIX}_PASSWORD`.
    pub fn from_env(prefix: &str) -> Self {
        let var = |k: &str| {
            std::env::var(format!("{prefix}_{k}"))
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        match (var("TOKEN"), var("USERNAME"), var("PASSWORD")) {
            (Some(t), _, _) => Auth::Bearer(t),
            (None, Some(user), Some(password)) => Auth::Basic { user, password },
            _ => Auth::None,
        }
    }
}

/// Errors building a client.
#[derive(Debug, thiserror::Error)]
#[error("configuring the {service} client: {message}")]
pub struct ClientError {
    pub service: &'static str,
    pub message: String,
}

/// One upstream (Prometheus or Alertmanager).
pub struct Upstream {
    /// Built on first use: loading the system's CA bundle costs milliseconds that only the
    /// first upstream call needs, so the server answers `initialize` without it.
    http: std::sync::OnceLock<Result<reqwest::Client, String>>,
    timeout: Duration,
    base: String,
    auth: Auth,
    service: &'static str,
}

impl Upstream {
    /// A client for `base`; no request is made here. `timeout` bounds each request (the
    /// server's query timeout is sent too, so Prometheus gives up first and says why).
    pub fn new(
        service: &'static str,
        base: &str,
        auth: Auth,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_string();
        if reqwest::Url::parse(&base).is_err() {
            return Err(ClientError {
                service,
                message: format!("{base:?} is not an absolute URL"),
            });
        }
        Ok(Self {
            http: std::sync::OnceLock::new(),
            timeout,
            base,
            auth,
            service,
        })
    }

    /// The HTTP client, built once on first use.
    fn http(&self) -> Result<&reqwest::Client, ToolError> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(self.timeout + Duration::from_secs(5))
                    .user_agent(concat!("mcp-prometheus/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|message| ToolError::Unreachable {
                service: self.service,
                message: format!("the HTTP client could not be built: {message}"),
            })
    }

    /// GET `path` with query pairs (empty values dropped).
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ToolError> {
        let q: Vec<(&str, &str)> = query
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let req = self.http()?.get(format!("{}{path}", self.base)).query(&q);
        self.send(req, path).await
    }

    /// POST `path` as a form (Prometheus accepts its query endpoints so; no URL length limit).
    pub async fn post_form(&self, path: &str, form: &[(&str, String)]) -> Result<Value, ToolError> {
        let f: Vec<(&str, &str)> = form
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let req = self.http()?.post(format!("{}{path}", self.base)).form(&f);
        self.send(req, path).await
    }

    async fn send(&self, req: reqwest::RequestBuilder, path: &str) -> Result<Value, ToolError> {
        let req = match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
        };
        let service = self.service;
        let resp = req.send().await.map_err(|e| ToolError::Unreachable {
            service,
            message: if e.is_timeout() {
                "no answer in time".into()
            } else if e.is_connect() {
                "connection refused or no route".into()
            } else {
                "the request failed".into()
            },
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = resp.text().await.map_err(|e| ToolError::Unreachable {
            service,
            message: format!("reading the response: {e}"),
        })?;
        let parsed: Result<Value, _> = serde_json::from_str(&text);
        if status.is_success() {
            let v = parsed.map_err(|e| {
                mcp_runtime::error::parse_failure(service, status.as_u16(), path, &e)
            })?;
            // Prometheus wraps data in an envelope; Alertmanager answers it bare.
            return match v.get("status").and_then(Value::as_str) {
                Some("success") => Ok(v),
                Some(_) => Err(envelope_error(service, status, &v)),
                None => Ok(v),
            };
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ToolError::RateLimited {
                service,
                retry_after_secs: retry_after.unwrap_or(30),
            });
        }
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(ToolError::Denied(format!(
                "{service} answered HTTP {}: check the credentials the server was started with",
                status.as_u16()
            )));
        }
        Err(match parsed.ok() {
            Some(v) if v.get("errorType").is_some() => envelope_error(service, status, &v),
            Some(v) => ToolError::Upstream {
                service,
                status: status.as_u16(),
                message: v
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("error")
                    .chars()
                    .take(300)
                    .collect(),
            },
            None => ToolError::Upstream {
                service,
                status: status.as_u16(),
                message: text.trim().chars().take(300).collect(),
            },
        })
    }
}

/// Prometheus' `{"status": "error", "errorType": "bad_data", "error": "..."}`.
fn envelope_error(service: &'static str, status: StatusCode, v: &Value) -> ToolError {
    let kind = v["errorType"].as_str().unwrap_or("error");
    let message: String = v["error"]
        .as_str()
        .unwrap_or("no message")
        .chars()
        .take(400)
        .collect();
    match kind {
        "bad_data" => ToolError::InvalidArgument {
            field: "query".into(),
            message,
        },
        "timeout" | "canceled" => ToolError::Upstream {
            service,
            status: status.as_u16(),
            message: format!("{kind}: {message}; narrow the query (shorter range, fewer series)"),
        },
        _ => ToolError::Upstream {
            service,
            status: status.as_u16(),
            message: format!("{kind}: {message}"),
        },
    }
}
