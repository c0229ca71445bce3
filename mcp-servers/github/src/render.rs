//! Compact text renderings of GitHub objects: one row per item, untrusted text fenced.

use mcp_runtime::budget::Table;
use mcp_runtime::fence::untrusted;
use octocrab::models::pulls::PullRequest;
use octocrab::models::repos::{DiffEntry, DiffEntryStatus, RepoCommit};

/// First 7 characters of an object id.
pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// The first line of a message, cut to 100 characters.
pub fn subject(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(100)
        .collect()
}

/// `2026-11-22 10:04Z` style time of a commit (author date).
pub fn commit_time(c: &RepoCommit) -> String {
    c.commit
        .author
        .as_ref()
        .and_then(|a| a.date)
        .map(|d| d.format("%Y-%m-%d %H:%MZ").to_string())
        .unwrap_or_else(|| "-".into())
}

/// The login of a commit's author, or the git author name.
pub fn commit_author(c: &RepoCommit) -> String {
    c.author
        .as_ref()
        .map(|a| a.login.clone())
        .or_else(|| c.commit.author.as_ref().map(|a| a.name.clone()))
        .unwrap_or_else(|| "-".into())
}

/// Commits as rows; subjects are upstream text, so the table is fenced.
pub fn commits_table(commits: &[RepoCommit]) -> String {
    let mut t = Table::new(["SHA", "DATE", "AUTHOR", "SUBJECT"]);
    for c in commits {
        t.row([
            short(&c.sha).to_string(),
            commit_time(c),
            commit_author(c),
            subject(&c.commit.message),
        ]);
    }
    untrusted("commit subjects", &t.render())
}

/// GitHub's status word of a changed file.
pub fn file_status(s: &DiffEntryStatus) -> &'static str {
    match s {
        DiffEntryStatus::Added => "added",
        DiffEntryStatus::Removed => "removed",
        DiffEntryStatus::Modified => "modified",
        DiffEntryStatus::Renamed => "renamed",
        DiffEntryStatus::Copied => "copied",
        DiffEntryStatus::Changed => "changed",
        DiffEntryStatus::Unchanged => "unchanged",
        _ => "changed",
    }
}

/// Changed files as rows (the per-file summary shown before any patch).
pub fn files_table(files: &[DiffEntry]) -> String {
    let mut t = Table::new(["STATUS", "+", "-", "FILE"]);
    for f in files {
        let name = match &f.previous_filename {
            Some(old) => format!("{old} -> {}", f.filename),
            None => f.filename.clone(),
        };
        t.row([
            file_status(&f.status).to_string(),
            f.additions.to_string(),
            f.deletions.to_string(),
            name,
        ]);
    }
    // Anyone who can push names files: the names are upstream text.
    untrusted("changed file names", &t.render())
}

/// Per-file patches, each cut to `max_lines` lines with a note of what was left out.
pub fn patches(files: &[DiffEntry], max_lines: usize) -> String {
    let mut out = String::new();
    for f in files {
        // The file's name is in the fence's label, never on a line of its own.
        match &f.patch {
            None => {
                out.push_str(&untrusted("file name", &f.filename));
                out.push_str("\n(no patch: binary file or diff too large for the API)\n");
            }
            Some(p) => {
                let lines: Vec<&str> = p.lines().collect();
                let shown = lines.len().min(max_lines);
                let body = lines[..shown].join("\n");
                out.push_str(&untrusted(&format!("patch of {}", f.filename), &body));
                out.push('\n');
                if shown < lines.len() {
                    out.push_str(&format!(
                        "({} more patch lines; raise patch_lines or read the file with file_get)\n",
                        lines.len() - shown
                    ));
                }
            }
        }
    }
    out
}

/// Pull requests as rows.
pub fn pulls_table(pulls: &[PullRequest]) -> String {
    let mut t = Table::new(["#", "STATE", "AUTHOR", "HEAD->BASE", "UPDATED", "TITLE"]);
    for p in pulls {
        let state = if p.merged_at.is_some() {
            "merged".to_string()
        } else if p.draft == Some(true) {
            "draft".to_string()
        } else {
            p.state
                .as_ref()
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or_else(|| "-".into())
        };
        t.row([
            p.number.to_string(),
            state,
            p.user.as_ref().map(|u| u.login.clone()).unwrap_or_default(),
            format!("{}->{}", p.head.ref_field, p.base.ref_field),
            p.updated_at
                .map(|d| d.format("%Y-%m-%d %H:%MZ").to_string())
                .unwrap_or_default(),
            p.title.clone().unwrap_or_default(),
        ]);
    }
    untrusted("pull request titles", &t.render())
}
