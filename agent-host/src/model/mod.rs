//! The model client: async-openai's chat API against any OpenAI-compatible base URL, with our
//! retrying transport, a circuit breaker, a per-request timeout, optional streaming (assembled
//! into one message), and token accounting. Flows depend on the [`Model`] trait, so tests plug
//! in the scripted model server or any other implementation.

pub mod breaker;
pub mod retry;
pub mod transport;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls, ChatCompletionResponseMessage,
    CreateChatCompletionRequest, FinishReason, FunctionCall, Role,
};
use futures::StreamExt;

pub use breaker::Breaker;
pub use retry::RetryPolicy;
pub use transport::{CircuitOpen, TransportStats};

/// One model answer.
#[derive(Debug, Clone)]
pub struct Completion {
    pub message: ChatCompletionResponseMessage,
    pub finish_reason: Option<FinishReason>,
    /// Tokens as the provider reported them; 0 when it reported none (see `usage_reported`).
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Whether the provider reported usage at all (a stream without a usage chunk, or a
    /// response without `usage`, did not): callers estimate and say so.
    pub usage_reported: bool,
    pub latency: Duration,
}

/// The request parameter that carries the completion cap. OpenAI's current name is
/// `max_completion_tokens` (its reasoning models refuse `max_tokens`); some compatible servers
/// know only `max_tokens`. llama.cpp's server takes both (`tools/server/server-schema.cpp`:
/// `n_predict` with the aliases `max_completion_tokens` and `max_tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapParam {
    /// `max_completion_tokens`, switching to `max_tokens` for good when the provider refuses
    /// the parameter (HTTP 400 naming it) or is seen to ignore it (more completion tokens
    /// than the cap).
    #[default]
    Auto,
    MaxCompletionTokens,
    MaxTokens,
}

/// Why a model call failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model provider rate limit (HTTP {status}); retries exhausted")]
    RateLimited { status: u16 },
    #[error("model provider unavailable: {0}")]
    Unavailable(String),
    #[error("model provider answered HTTP {status}: {message}")]
    Http { status: u16, message: String },
    #[error("model call failed: {0}")]
    Other(String),
}

impl ModelError {
    /// Whether the failure passes (a rate limit or spent quota, the provider unreachable,
    /// overloaded or answering 408/409/5xx): worth retrying later, never a decision.
    pub fn is_transient(&self) -> bool {
        match self {
            ModelError::RateLimited { .. } | ModelError::Unavailable(_) => true,
            ModelError::Http { status, .. } => matches!(status, 408 | 409 | 425 | 500..=599),
            ModelError::Other(_) => false,
        }
    }
}

impl From<OpenAIError> for ModelError {
    fn from(e: OpenAIError) -> Self {
        match e {
            OpenAIError::ApiError(api) => {
                let status = api.status_code.as_u16();
                if status == 429 {
                    ModelError::RateLimited { status }
                } else {
                    ModelError::Http {
                        status,
                        message: api.api_error.message.chars().take(300).collect(),
                    }
                }
            }
            OpenAIError::Boxed(b) if b.is::<CircuitOpen>() => {
                ModelError::Unavailable(b.to_string())
            }
            OpenAIError::Boxed(b) => match b.downcast_ref::<transport::ProviderFault>() {
                Some(f) if f.status == 429 => ModelError::RateLimited { status: f.status },
                Some(f) => ModelError::Http {
                    status: f.status,
                    message: f.body.clone(),
                },
                None => ModelError::Other(b.to_string().chars().take(300).collect()),
            },
            // A body that does not parse was most likely cut off on the way: a passing fault
            // (a provider that always answers garbage is retried until the task's deadline,
            // then humans decide).
            OpenAIError::JSONDeserialize(e, _) => {
                ModelError::Unavailable(format!("the provider's answer did not parse: {e}"))
            }
            OpenAIError::StreamError(e) => {
                ModelError::Unavailable(format!("the stream broke: {e}"))
            }
            OpenAIError::Reqwest(r) => ModelError::Unavailable(r.to_string()),
            other => ModelError::Other(other.to_string().chars().take(300).collect()),
        }
    }
}

/// Anything that answers chat completion requests.
pub trait Model: Send + Sync {
    /// One completion for `request` (its `model` field is filled in by the implementation).
    fn complete(
        &self,
        request: CreateChatCompletionRequest,
    ) -> impl Future<Output = Result<Completion, ModelError>> + Send;
}

/// Settings of [`OpenAiModel`].
#[derive(Debug, Clone)]
pub struct ModelSettings {
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    pub timeout: Duration,
    pub stream: bool,
    pub retry: RetryPolicy,
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
    /// How the completion cap is sent.
    pub cap_param: CapParam,
}

/// An OpenAI-compatible provider.
pub struct OpenAiModel {
    client: Client<OpenAIConfig>,
    settings: ModelSettings,
    /// Retry waits and attempts seen by the transport.
    pub stats: Arc<TransportStats>,
    /// The provider's circuit breaker.
    pub breaker: Arc<Mutex<Breaker>>,
    /// `CapParam::Auto` found that this provider needs `max_tokens`.
    legacy_cap: AtomicBool,
}

impl OpenAiModel {
    /// A client; no request is made here.
    pub fn new(settings: ModelSettings) -> Result<Self, ModelError> {
        // reqwest panics without a process-wide rustls provider; ours is ring (idempotent).
        mcp_runtime::telemetry::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ModelError::Other(e.to_string()))?;
        let stats = Arc::new(TransportStats::default());
        let breaker = Arc::new(Mutex::new(Breaker::new(
            settings.breaker_threshold,
            settings.breaker_cooldown,
        )));
        let transport = transport::RetryTransport::new(
            http.clone(),
            settings.retry.clone(),
            breaker.clone(),
            stats.clone(),
        );
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url.trim_end_matches('/'))
            .with_api_key(settings.api_key.clone());
        let client = Client::with_config(config)
            .with_http_client(http)
            .with_http_service(transport);
        Ok(Self {
            client,
            settings,
            stats,
            breaker,
            legacy_cap: AtomicBool::new(false),
        })
    }

    /// Whether the cap travels as `max_tokens` for this provider.
    fn uses_max_tokens(&self) -> bool {
        match self.settings.cap_param {
            CapParam::MaxTokens => true,
            CapParam::MaxCompletionTokens => false,
            CapParam::Auto => self.legacy_cap.load(Ordering::Relaxed),
        }
    }

    /// Moves the cap (callers set `max_completion_tokens`) to the parameter this provider takes.
    fn place_cap(&self, request: &mut CreateChatCompletionRequest) {
        if self.uses_max_tokens() && request.max_completion_tokens.is_some() {
            #[allow(deprecated)]
            {
                request.max_tokens = request.max_completion_tokens.take();
            }
        }
    }

    /// One call, the cap placed; with `CapParam::Auto`, a refusal of `max_completion_tokens`
    /// switches to `max_tokens` and tries once more, and a reply longer than the cap (the
    /// provider ignored the parameter) switches for the calls after it.
    async fn call(&self, request: CreateChatCompletionRequest) -> Result<Completion, ModelError> {
        let cap = request.max_completion_tokens;
        let mut placed = request.clone();
        self.place_cap(&mut placed);
        let result = self.call_once(placed).await;
        let auto = self.settings.cap_param == CapParam::Auto && !self.uses_max_tokens();
        match result {
            Err(ModelError::Http {
                status: 400,
                message,
            }) if auto && cap.is_some() && message.contains("max_completion_tokens") => {
                tracing::warn!(
                    "the model provider refused max_completion_tokens; sending max_tokens from now on"
                );
                self.legacy_cap.store(true, Ordering::Relaxed);
                let mut retry = request;
                self.place_cap(&mut retry);
                self.call_once(retry).await
            }
            Ok(c) => {
                if auto
                    && c.usage_reported
                    && cap.is_some_and(|cap| c.completion_tokens > u64::from(cap))
                {
                    tracing::warn!(completion_tokens = c.completion_tokens, cap = ?cap,
                        "the model provider ignored max_completion_tokens; sending max_tokens from now on");
                    self.legacy_cap.store(true, Ordering::Relaxed);
                }
                Ok(c)
            }
            other => other,
        }
    }

    async fn call_once(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<Completion, ModelError> {
        if self.settings.stream {
            return self.streamed(request).await;
        }
        let started = Instant::now();
        let resp = self.client.chat().create(request).await?;
        let choice = resp
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::Other("the provider returned no choices".into()))?;
        let usage = resp.usage;
        Ok(Completion {
            message: choice.message,
            finish_reason: choice.finish_reason,
            prompt_tokens: usage
                .as_ref()
                .map(|u| u64::from(u.prompt_tokens))
                .unwrap_or(0),
            completion_tokens: usage
                .as_ref()
                .map(|u| u64::from(u.completion_tokens))
                .unwrap_or(0),
            usage_reported: usage.is_some(),
            latency: started.elapsed(),
        })
    }

    async fn streamed(
        &self,
        mut request: CreateChatCompletionRequest,
    ) -> Result<Completion, ModelError> {
        let started = Instant::now();
        request.stream = Some(true);
        request.stream_options = Some(async_openai::types::chat::ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        });
        let mut stream = self.client.chat().create_stream(request).await?;
        let mut content = String::new();
        let mut calls: Vec<(String, String, String)> = Vec::new();
        let (mut finish, mut prompt, mut completion, mut reported) = (None, 0, 0, false);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if let Some(u) = chunk.usage {
                reported = true;
                prompt = u64::from(u.prompt_tokens);
                completion = u64::from(u.completion_tokens);
            }
            for choice in chunk.choices {
                if let Some(c) = choice.delta.content {
                    content.push_str(&c);
                }
                for tc in choice.delta.tool_calls.unwrap_or_default() {
                    let i = tc.index as usize;
                    while calls.len() <= i {
                        calls.push(Default::default());
                    }
                    if let Some(id) = tc.id {
                        calls[i].0 = id;
                    }
                    if let Some(f) = tc.function {
                        if let Some(n) = f.name {
                            calls[i].1.push_str(&n);
                        }
                        if let Some(a) = f.arguments {
                            calls[i].2.push_str(&a);
                        }
                    }
                }
                if choice.finish_reason.is_some() {
                    finish = choice.finish_reason;
                }
            }
        }
        let tool_calls: Vec<ChatCompletionMessageToolCalls> = calls
            .into_iter()
            .map(|(id, name, arguments)| {
                ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                    id,
                    function: FunctionCall { name, arguments },
                })
            })
            .collect();
        #[allow(deprecated)]
        let message = ChatCompletionResponseMessage {
            content: (!content.is_empty()).then_some(content),
            refusal: None,
            tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            annotations: None,
            role: Role::Assistant,
            function_call: None,
            audio: None,
        };
        Ok(Completion {
            message,
            finish_reason: finish,
            prompt_tokens: prompt,
            completion_tokens: completion,
            usage_reported: reported,
            latency: started.elapsed(),
        })
    }
}

impl Model for OpenAiModel {
    async fn complete(
        &self,
        mut request: CreateChatCompletionRequest,
    ) -> Result<Completion, ModelError> {
        request.model = self.settings.model.clone();
        self.call(request).await
    }
}
