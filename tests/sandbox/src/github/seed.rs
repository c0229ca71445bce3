//! Seeding repositories from a directory: `<owner>/<repo>/repo.yaml` holds a scripted history
//! (each step a commit of files, optionally a whole directory tree) plus pull requests, workflow
//! runs, checks and security alerts that refer to history steps by index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::repo::{CheckRun, Pull, Repo, WorkflowRun};

/// A seed that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing {path}: {message}")]
    Parse { path: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoSeed {
    id: u64,
    #[serde(default = "main")]
    default_branch: String,
    #[serde(default)]
    public: bool,
    history: Vec<Step>,
    #[serde(default)]
    pulls: Vec<PullSeed>,
    #[serde(default)]
    runs: Vec<RunSeed>,
    #[serde(default)]
    checks: Vec<CheckSeed>,
    #[serde(default)]
    alerts: BTreeMap<String, Vec<Value>>,
}

fn main() -> String {
    "main".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    message: String,
    author: String,
    at: String,
    /// Directory (relative to the repo's seed directory) whose files are committed.
    #[serde(default)]
    tree: Option<String>,
    #[serde(default)]
    files: BTreeMap<String, Option<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PullSeed {
    number: u64,
    title: String,
    #[serde(default)]
    body: String,
    user: String,
    head_ref: String,
    /// Merged PR: the history step it merged.
    #[serde(default)]
    merged: Option<usize>,
    /// Open PR: a commit on `head_ref` branched from the default branch head.
    #[serde(default)]
    open: Option<Step>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    reviews: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunSeed {
    name: String,
    event: String,
    branch: String,
    commit: usize,
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
    at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckSeed {
    commit: usize,
    name: String,
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
}

/// The shipped seeds.
pub fn default_seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/github")
}

/// Parses `-72h`, `-30m`, `-45s`, `-2d` relative to `now`, or an RFC 3339 time.
pub fn parse_time(text: &str, now: i64) -> Result<i64, String> {
    if let Some(rel) = text.strip_prefix('-') {
        let (num, unit) = rel.split_at(rel.len().saturating_sub(1));
        let n: i64 = num
            .parse()
            .map_err(|_| format!("bad relative time `{text}`"))?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86400,
            _ => return Err(format!("bad unit in `{text}` (s, m, h, d)")),
        };
        return Ok(now - secs);
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|e| format!("bad time `{text}`: {e}"))
}

/// Loads every `<owner>/<repo>/repo.yaml` under `dir`; relative times count back from `now`.
pub fn load_dir(dir: &Path, now: i64) -> Result<Vec<Repo>, SeedError> {
    let read_dir = |p: &Path| {
        std::fs::read_dir(p).map_err(|source| SeedError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let mut repos = Vec::new();
    let mut owners: Vec<PathBuf> = read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    owners.sort();
    for owner in owners.into_iter().filter(|p| p.is_dir()) {
        let mut names: Vec<PathBuf> = read_dir(&owner)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("repo.yaml").is_file())
            .collect();
        names.sort();
        for repo_dir in names {
            repos.push(load_repo(&repo_dir, now)?);
        }
    }
    Ok(repos)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn load_repo(dir: &Path, now: i64) -> Result<Repo, SeedError> {
    let path = dir.join("repo.yaml");
    let shown = path.display().to_string();
    let parse_err = |message: String| SeedError::Parse {
        path: shown.clone(),
        message,
    };
    let text = std::fs::read_to_string(&path).map_err(|source| SeedError::Read {
        path: shown.clone(),
        source,
    })?;
    let seed: RepoSeed = serde_saphyr::from_str(&text).map_err(|e| parse_err(e.to_string()))?;
    let owner = dir.parent().map(file_name).unwrap_or_default();
    let mut repo = Repo::new(seed.id, &owner, &file_name(dir), &seed.default_branch);
    repo.private = !seed.public;
    let branch = seed.default_branch.clone();
    let mut history = Vec::new();
    for step in &seed.history {
        let oid = commit_step(&mut repo, dir, &branch, step, now).map_err(&parse_err)?;
        history.push(oid);
    }
    let step_oid = |i: usize| {
        history
            .get(i)
            .cloned()
            .ok_or_else(|| parse_err(format!("history step {i} does not exist")))
    };
    for p in seed.pulls {
        let (head_sha, base_sha, state, merged_at, created) = match (&p.merged, &p.open) {
            (Some(i), None) => {
                let head = step_oid(*i)?;
                let base = if *i == 0 {
                    String::new()
                } else {
                    step_oid(i - 1)?
                };
                let t = repo.odb.commit(&head).map(|c| c.author.time).unwrap_or(now);
                (head, base, "closed", Some(t), t - 3600)
            }
            (None, Some(step)) => {
                let base = repo
                    .refs
                    .get(&format!("refs/heads/{branch}"))
                    .cloned()
                    .unwrap_or_default();
                repo.refs
                    .insert(format!("refs/heads/{}", p.head_ref), base.clone());
                let head =
                    commit_step(&mut repo, dir, &p.head_ref, step, now).map_err(&parse_err)?;
                let t = repo.odb.commit(&head).map(|c| c.author.time).unwrap_or(now);
                (head, base, "open", None, t)
            }
            _ => {
                return Err(parse_err(format!(
                    "pull {} needs exactly one of `merged` or `open`",
                    p.number
                )));
            }
        };
        repo.pulls.push(Pull {
            number: p.number,
            title: p.title,
            body: p.body,
            user: p.user,
            head_ref: p.head_ref,
            merge_commit_sha: merged_at.map(|_| head_sha.clone()),
            head_sha,
            base_ref: branch.clone(),
            base_sha,
            state: state.into(),
            draft: false,
            merged_at,
            labels: p.labels,
            created_at: created,
            updated_at: merged_at.unwrap_or(created),
            reviews: p.reviews,
            comments: Vec::new(),
        });
    }
    for (i, r) in seed.runs.into_iter().enumerate() {
        let t = parse_time(&r.at, now).map_err(&parse_err)?;
        repo.runs.push(WorkflowRun {
            id: seed.id * 1000 + i as u64 + 1,
            name: r.name,
            event: r.event,
            branch: r.branch,
            head_sha: step_oid(r.commit)?,
            status: r.status,
            conclusion: r.conclusion,
            created_at: t,
            updated_at: t + 120,
        });
    }
    for c in seed.checks {
        let oid = step_oid(c.commit)?;
        repo.checks.entry(oid).or_default().push(CheckRun {
            name: c.name,
            status: c.status,
            conclusion: c.conclusion,
        });
    }
    repo.alerts = seed.alerts;
    Ok(repo)
}

fn commit_step(
    repo: &mut Repo,
    dir: &Path,
    branch: &str,
    step: &Step,
    now: i64,
) -> Result<String, String> {
    let mut files: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    if let Some(tree) = &step.tree {
        let root = dir.join(tree);
        read_tree(&root, &root, &mut files)?;
    }
    for (path, content) in &step.files {
        files.insert(path.clone(), content.clone().map(String::into_bytes));
    }
    let time = parse_time(&step.at, now)?;
    Ok(repo.commit_files(branch, &files, &step.message, &step.author, time))
}

fn read_tree(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, Option<Vec<u8>>>,
) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else {
            let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let rel = path
                .strip_prefix(root)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, Some(data));
        }
    }
    Ok(())
}
