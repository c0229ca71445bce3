//! Subcommands: `tools` lists what each flow's model would see and what it costs in tokens;
//! `ask` runs one flow once with a question and prints the typed answer; `approve` decides one
//! ApprovalTask; `run` is the long-running controller; `feedback` exports and reports what
//! humans taught it.

/// `println!` that returns the error instead of panicking when stdout is closed
/// (`agent-host tools | head`); [`is_broken_pipe`] tells the binary to end quietly then.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)
    }};
}

/// `print!` likewise.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($t)*)
    }};
}

mod approval;
mod demo;
mod feedback;
mod rollback;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::agent::{self, RunSpec};
use crate::audit::{AuditLog, Metrics};
use crate::config::Config;
use crate::mcp::{Pool, Scoped, Toolbox};
use crate::model::OpenAiModel;

#[derive(Parser)]
#[command(
    name = "agent-host",
    version,
    about = "Drives an OpenAI-compatible model through our MCP servers"
)]
struct Cli {
    /// Configuration file.
    #[arg(
        long,
        short,
        env = "AGENT_HOST_CONFIG",
        default_value = "agent-host.yaml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the tools each flow offers the model, with their schema size in tokens.
    Tools {
        /// Only this flow.
        #[arg(long)]
        flow: Option<String>,
    },
    /// Run a flow once with a question; print the typed answer (exit 2 without a decision).
    Ask {
        #[arg(long)]
        flow: String,
        /// The question, passed to the user template as `question`.
        question: String,
    },
    /// Decide one ApprovalTask now, as the controller would (exit 0 when reviewed).
    Approve {
        /// NAMESPACE/NAME of the ApprovalTask.
        task: String,
        /// Decide and print, but write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run the approval controller (leader-elected) with metrics and probes.
    Run {
        /// Address of /metrics, /healthz and /readyz.
        #[arg(long, default_value = "0.0.0.0:9090")]
        listen: std::net::SocketAddr,
    },
    /// One rollback pass: detect, attribute, revert, tell Slack (exit 0 when it ran).
    Rollback {
        /// Run one pass now (the schedule runs under `run`).
        #[arg(long)]
        once: bool,
        /// Detect and attribute, but write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Both stories on this machine against the sandbox (no credentials needed); exit 0 when
    /// both end as expected.
    Demo {
        /// Folder for the logs and audit records (default: .demo/<time>).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The learning loop's outputs, from the audit log.
    Feedback {
        #[command(subcommand)]
        command: FeedbackCommand,
    },
}

#[derive(Subcommand)]
enum FeedbackCommand {
    /// Fine-tuning JSONL: `sft` (chat examples humans agreed with) or `dpo` (preference pairs
    /// where they disagreed).
    Export {
        #[arg(long, value_parser = ["sft", "dpo"])]
        format: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Agreement with humans per namespace, pipeline and model.
    Report,
}

/// Tokens of a JSON text, estimated the usual way (4 bytes per token).
pub fn tokens(bytes: usize) -> usize {
    bytes.div_ceil(4)
}

/// Parses the command line and runs it.
pub async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Demo { dir } = cli.command {
        if let Err(why) = demo::run(dir).await? {
            eprintln!("demo: {why}");
            std::process::exit(1);
        }
        return Ok(());
    }
    let cfg = Config::load(&cli.config)?;
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()));
    let pool = Pool::new(cfg.server_specs(exe_dir.as_deref()));
    match cli.command {
        Command::Demo { .. } => Ok(()),
        Command::Approve { task, dry_run } => {
            let review = approval::approve_once(&cfg, pool, &task, dry_run).await?;
            outln!("{}", approval::describe(&review))?;
            Ok(())
        }
        Command::Run { listen } => approval::run(&cfg, pool, listen).await,
        Command::Rollback { once, dry_run } => {
            anyhow::ensure!(once, "use `rollback --once`; `run` runs the schedule");
            rollback::once(&cfg, pool, dry_run).await
        }
        Command::Feedback { command } => {
            let path = cfg
                .audit
                .jsonl
                .clone()
                .context("the configuration has no audit.jsonl: there is nothing to read")?;
            let lines = feedback::read(&path)?;
            match command {
                FeedbackCommand::Export { format, out } => {
                    let format = if format == "sft" {
                        crate::approval::feedback::Format::Sft
                    } else {
                        crate::approval::feedback::Format::Dpo
                    };
                    let n = match out {
                        Some(p) => {
                            let mut f = std::fs::File::create(&p)
                                .with_context(|| format!("creating {}", p.display()))?;
                            feedback::export(&lines, format, &mut f)?
                        }
                        None => feedback::export(&lines, format, &mut std::io::stdout().lock())?,
                    };
                    eprintln!("{n} training records");
                    Ok(())
                }
                FeedbackCommand::Report => {
                    out!("{}", feedback::report(&lines))?;
                    Ok(())
                }
            }
        }
        Command::Tools { flow } => {
            for (name, f) in cfg
                .flows
                .iter()
                .filter(|(n, _)| flow.as_ref().is_none_or(|x| x == *n))
            {
                let allow = cfg.allow_list(f);
                let tools = Scoped {
                    pool: &pool,
                    allow: &allow,
                }
                .list()
                .await;
                let mut total = 0;
                outln!("flow {name}:")?;
                for t in &tools {
                    let bytes = serde_json::json!({"name": agent::run::wire_name(&t.name), "description": t.description, "parameters": t.schema}).to_string().len();
                    total += bytes;
                    outln!(
                        "  {:<40} {:>5} tokens  {}",
                        t.name,
                        tokens(bytes),
                        t.description
                    )?;
                }
                outln!(
                    "  {} tools, {} tokens of schema per model call",
                    tools.len(),
                    tokens(total)
                )?;
            }
            Ok(())
        }
        Command::Ask { flow, question } => {
            let f = cfg.flow(&flow)?;
            let prompts = cfg.prompts();
            let ctx = minijinja::context! { question => crate::prompt::Untrusted::value(question.as_str()) };
            let spec = RunSpec {
                flow: flow.clone(),
                system: prompts.render(&f.system_template, ctx.clone())?,
                user: prompts.render(&f.user_template, ctx)?,
                answer_schema: f.answer_schema.clone(),
                structured_output: cfg.model.structured_output,
                max_steps: f.max_steps,
                max_tokens: f.max_tokens,
                max_completion_tokens: f.completion_cap(),
                deadline: Duration::from_secs(f.deadline_secs),
                result_cap: f.result_cap_bytes,
                temperature: cfg.model.temperature,
            };
            let model = OpenAiModel::new(cfg.model_settings()).context("model client")?;
            let allow = cfg.allow_list(f);
            let rec = agent::run(
                &model,
                &Scoped {
                    pool: &pool,
                    allow: &allow,
                },
                &spec,
            )
            .await;
            AuditLog::new(cfg.audit.jsonl.clone(), cfg.model.price_per_1k).write(&rec)?;
            let metrics = Metrics::default();
            metrics.record(
                &rec,
                model
                    .stats
                    .waits
                    .lock()
                    .map(|w| w.len() as u64)
                    .unwrap_or(0),
            );
            tracing::info!(
                steps = rec.steps,
                prompt_tokens = rec.prompt_tokens,
                completion_tokens = rec.completion_tokens,
                "run finished"
            );
            match rec.outcome {
                agent::Outcome::Answer { value } => {
                    outln!("{}", serde_json::to_string_pretty(&value)?)?;
                    Ok(())
                }
                agent::Outcome::NoDecision { reason } => {
                    eprintln!("no decision: {reason}");
                    std::process::exit(2);
                }
                agent::Outcome::Unavailable { reason } => {
                    eprintln!("the model is unavailable, try again later: {reason}");
                    std::process::exit(3);
                }
            }
        }
    }
}

/// Whether `e` is stdout closed under us (a pipe whose reader left): not a failure of the run.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
