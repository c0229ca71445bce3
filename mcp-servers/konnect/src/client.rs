//! The Konnect HTTP client: bearer auth, region base URLs, and Konnect's
//! `application/problem+json` errors turned into [`ToolError`]s that name the offending field.

use std::time::Duration;

use mcp_runtime::ToolError;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

const SERVICE: &str = "konnect";

/// Regions Konnect serves.
pub const REGIONS: &[&str] = &["us", "eu", "au", "me", "in", "sg"];

/// The API base URL of a region.
pub fn region_url(region: &str) -> Option<String> {
    REGIONS
        .contains(&region)
        .then(|| format!("https://{region}.api.konghq.com"))
}

/// A client for one token and base URL.
pub struct Konnect {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// Errors building the client.
#[derive(Debug, thiserror::Error)]
#[error("configuring the Konnect client: {0}")]
pub struct ClientError(pub String);

impl Konnect {
    /// A client; no request is made here.
    pub fn new(base: &str, token: String) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Konnect cancels analytics queries at 10 s; leave room for the 408 to arrive.
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("mcp-konnect/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError(e.to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// GET `path` (with query pairs) as JSON.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ToolError> {
        let q: Vec<(&str, &str)> = query
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        self.send(
            self.http
                .request(Method::GET, format!("{}{path}", self.base))
                .query(&q),
            path,
        )
        .await
    }

    /// POST a JSON body.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, ToolError> {
        self.send(
            self.http.post(format!("{}{path}", self.base)).json(body),
            path,
        )
        .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<T, ToolError> {
        let resp =
            req.bearer_auth(&self.token)
                .send()
                .await
                .map_err(|e| ToolError::Unreachable {
                    service: SERVICE,
                    message: if e.is_timeout() {
                        "no answer within 20 s".into()
                    } else {
                        format!("{e}")
                    },
                })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = resp.text().await.map_err(|e| ToolError::Unreachable {
            service: SERVICE,
            message: format!("reading the response: {e}"),
        })?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                mcp_runtime::error::parse_failure(SERVICE, status.as_u16(), path, &e)
            });
        }
        Err(problem(status, &text, retry_after, path))
    }
}

/// Maps a Konnect error response to a tool error.
pub fn problem(status: StatusCode, body: &str, retry_after: Option<u64>, path: &str) -> ToolError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let detail = v["detail"]
        .as_str()
        .or(v["message"].as_str())
        .unwrap_or(body)
        .trim()
        .to_string();
    match status.as_u16() {
        400 => {
            let fields: Vec<String> = v["invalid_parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| format!("{}: {}", p["field"].as_str().unwrap_or("?"), p["reason"].as_str().unwrap_or("invalid")))
                        .collect()
                })
                .unwrap_or_default();
            let field = v["invalid_parameters"][0]["field"].as_str().unwrap_or("query").to_string();
            ToolError::InvalidArgument {
                field,
                message: if fields.is_empty() { detail } else { format!("Konnect rejected the query: {}", fields.join("; ")) },
            }
        }
        401 => ToolError::Upstream {
            service: SERVICE,
            status: 401,
            message: format!("{detail}: check KONNECT_ACCESS_TOKEN (a kpat_ or spat_ token of this region)"),
        },
        403 => ToolError::Upstream {
            service: SERVICE,
            status: 403,
            message: format!("{detail}: the token lacks the Analytics Viewer or Control Plane Viewer role"),
        },
        404 => ToolError::NotFound(format!("{path}: {detail}")),
        408 => ToolError::Upstream {
            service: SERVICE,
            status: 408,
            message: "the analytics query took longer than Konnect's 10 s limit; use a shorter window or filter to fewer routes".into(),
        },
        429 => ToolError::RateLimited {
            service: SERVICE,
            retry_after_secs: retry_after.unwrap_or(60),
        },
        code => ToolError::Upstream {
            service: SERVICE,
            status: code,
            message: detail.chars().take(300).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_json_names_the_field() {
        let body = r#"{"status":400,"title":"Invalid Request","instance":"kong:trace:1","detail":"Invalid Parameters",
            "invalid_parameters":[{"field":"metrics.0","rule":"enum","reason":"must be one of ..."}]}"#;
        let e = problem(StatusCode::BAD_REQUEST, body, None, "/v2/metrics");
        assert_eq!(
            e.to_string(),
            "invalid argument `metrics.0`: Konnect rejected the query: metrics.0: must be one of ..."
        );
        let e = problem(StatusCode::TOO_MANY_REQUESTS, "{}", Some(17), "/v2/metrics");
        assert_eq!(
            e,
            ToolError::RateLimited {
                service: "konnect",
                retry_after_secs: 17
            }
        );
    }

    #[test]
    fn regions_map_to_base_urls() {
        assert_eq!(
            region_url("eu").as_deref(),
            Some("https://eu.api.konghq.com")
        );
        assert_eq!(region_url("mars"), None);
    }
}
