//! GitHub REST response shapes, with the fields GitHub documents (and octocrab's models need).

use serde_json::{Value, json};

use super::repo::{FileChange, Pull, Repo, WorkflowRun};

/// RFC 3339 of epoch seconds, as GitHub prints times.
pub fn time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn user_id(login: &str) -> u64 {
    login.bytes().fold(1000u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    }) % 90_000_000
        + 1000
}

/// A user (`simple-user`).
pub fn user(base: &str, login: &str) -> Value {
    let id = user_id(login);
    let is_bot = login.ends_with("[bot]");
    let u = format!("{base}/users/{login}");
    json!({
        "login": login, "id": id, "node_id": format!("U_{id}"),
        "avatar_url": format!("{base}/avatars/u/{id}"), "gravatar_id": "",
        "url": u, "html_url": format!("{base}/{login}"),
        "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"),
        "type": if is_bot { "Bot" } else { "User" }, "site_admin": false,
    })
}

/// The API URL of a repository.
pub fn repo_url(base: &str, r: &Repo) -> String {
    format!("{base}/repos/{}/{}", r.owner, r.name)
}

/// A repository (`repository`, the commonly used fields).
pub fn repository(base: &str, r: &Repo) -> Value {
    let url = repo_url(base, r);
    json!({
        "id": r.id, "node_id": format!("R_{}", r.id), "name": r.name, "full_name": r.full_name(),
        "private": r.private, "owner": user(base, &r.owner),
        "html_url": format!("{base}/{}", r.full_name()), "url": url,
        "default_branch": r.default_branch, "visibility": if r.private { "private" } else { "public" },
        "archived": false, "disabled": false, "fork": false,
        "pulls_url": format!("{url}/pulls{{/number}}"), "commits_url": format!("{url}/commits{{/sha}}"),
    })
}

fn git_person(sig: &super::git::Signature) -> Value {
    json!({"name": sig.name, "email": sig.email, "date": time(sig.time)})
}

/// A commit (`commit`); with `files` set, also `stats` and `files` as the single-commit API does.
pub fn commit(base: &str, r: &Repo, oid: &str, files: Option<&[FileChange]>) -> Value {
    let url = repo_url(base, r);
    let Some(c) = r.odb.commit(oid) else {
        return Value::Null;
    };
    let mut v = json!({
        "url": format!("{url}/commits/{oid}"), "sha": oid, "node_id": format!("C_{oid}"),
        "html_url": format!("{base}/{}/commit/{oid}", r.full_name()),
        "comments_url": format!("{url}/commits/{oid}/comments"),
        "commit": {
            "url": format!("{url}/git/commits/{oid}"),
            "author": git_person(&c.author), "committer": git_person(&c.committer),
            "message": c.message, "comment_count": 0,
            "tree": {"sha": c.tree, "url": format!("{url}/git/trees/{}", c.tree)},
            "verification": {"verified": false, "reason": "unsigned", "payload": null, "signature": null},
        },
        "author": user(base, &c.author.name), "committer": user(base, &c.committer.name),
        "parents": c.parents.iter().map(|p| json!({
            "sha": p, "url": format!("{url}/commits/{p}"),
            "html_url": format!("{base}/{}/commit/{p}", r.full_name()),
        })).collect::<Vec<_>>(),
    });
    if let Some(files) = files {
        let (add, del) = files
            .iter()
            .fold((0, 0), |(a, d), f| (a + f.additions, d + f.deletions));
        v["stats"] = json!({"total": add + del, "additions": add, "deletions": del});
        v["files"] = Value::Array(files.iter().map(|f| diff_entry(base, r, oid, f)).collect());
    }
    v
}

/// A changed file (`diff-entry`).
pub fn diff_entry(base: &str, r: &Repo, at: &str, f: &FileChange) -> Value {
    let url = repo_url(base, r);
    let mut v = json!({
        "sha": f.sha, "filename": f.filename, "status": f.status,
        "additions": f.additions, "deletions": f.deletions, "changes": f.additions + f.deletions,
        "blob_url": format!("{base}/{}/blob/{at}/{}", r.full_name(), f.filename),
        "raw_url": format!("{base}/{}/raw/{at}/{}", r.full_name(), f.filename),
        "contents_url": format!("{url}/contents/{}?ref={at}", f.filename),
    });
    if let Some(p) = &f.patch {
        v["patch"] = Value::String(p.clone());
    }
    if let Some(p) = &f.previous_filename {
        v["previous_filename"] = Value::String(p.clone());
    }
    v
}

fn label(base: &str, r: &Repo, name: &str) -> Value {
    let id = user_id(name);
    json!({"id": id, "node_id": format!("LA_{id}"), "url": format!("{}/labels/{name}", repo_url(base, r)),
           "name": name, "description": null, "color": "ededed", "default": false})
}

/// A pull request (`pull-request`); `detail` adds the counts only the single-PR API returns.
pub fn pull(base: &str, r: &Repo, p: &Pull, detail: bool) -> Value {
    let url = repo_url(base, r);
    let head = r.pull_head(p);
    let html = format!("{base}/{}/pull/{}", r.full_name(), p.number);
    let mut v = json!({
        "url": format!("{url}/pulls/{}", p.number), "id": r.id * 100_000 + p.number,
        "node_id": format!("PR_{}_{}", r.id, p.number), "html_url": html,
        "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
        "issue_url": format!("{url}/issues/{}", p.number),
        "commits_url": format!("{url}/pulls/{}/commits", p.number),
        "comments_url": format!("{url}/issues/{}/comments", p.number),
        "statuses_url": format!("{url}/statuses/{head}"),
        "number": p.number, "state": p.state, "locked": false, "title": p.title,
        "user": user(base, &p.user), "body": if p.body.is_empty() { Value::Null } else { Value::String(p.body.clone()) },
        "labels": p.labels.iter().map(|l| label(base, r, l)).collect::<Vec<_>>(),
        "created_at": time(p.created_at), "updated_at": time(p.updated_at),
        "closed_at": p.merged_at.map(time), "merged_at": p.merged_at.map(time),
        "merge_commit_sha": p.merge_commit_sha, "draft": p.draft,
        "assignees": [], "requested_reviewers": [],
        "head": {"label": format!("{}:{}", r.owner, p.head_ref), "ref": p.head_ref, "sha": head,
                 "user": user(base, &r.owner), "repo": repository(base, r)},
        "base": {"label": format!("{}:{}", r.owner, p.base_ref), "ref": p.base_ref, "sha": p.base_sha,
                 "user": user(base, &r.owner), "repo": repository(base, r)},
        "author_association": "MEMBER",
    });
    if detail {
        let commits = r.pull_commits(p);
        let base_sha = (!p.base_sha.is_empty()).then_some(p.base_sha.as_str());
        let files = r.diff(base_sha, &head);
        let (add, del) = files
            .iter()
            .fold((0, 0), |(a, d), f| (a + f.additions, d + f.deletions));
        let merged = p.merged_at.is_some();
        // Mergeable when the base has not moved past the PR's base (no conflicting changes).
        let base_head = r.resolve(&p.base_ref).unwrap_or_default();
        let clean = base_head == p.base_sha || r.odb.is_ancestor(&base_head, &head);
        v["merged"] = json!(merged);
        v["mergeable"] = if merged { Value::Null } else { json!(clean) };
        v["mergeable_state"] = json!(if merged {
            "unknown"
        } else if clean {
            "clean"
        } else {
            "behind"
        });
        v["comments"] = json!(p.comments.len());
        v["review_comments"] = json!(0);
        v["commits"] = json!(commits.len());
        v["additions"] = json!(add);
        v["deletions"] = json!(del);
        v["changed_files"] = json!(files.len());
    }
    v
}

/// An issue-search hit for a pull request.
pub fn pull_as_issue(base: &str, r: &Repo, p: &Pull) -> Value {
    let url = repo_url(base, r);
    json!({
        "url": format!("{url}/issues/{}", p.number), "repository_url": url,
        "labels_url": format!("{url}/issues/{}/labels{{/name}}", p.number),
        "comments_url": format!("{url}/issues/{}/comments", p.number),
        "events_url": format!("{url}/issues/{}/events", p.number), "assignees": [],
        "id": r.id * 100_000 + p.number, "node_id": format!("I_{}_{}", r.id, p.number),
        "number": p.number, "title": p.title, "state": p.state, "locked": false,
        "user": user(base, &p.user),
        "labels": p.labels.iter().map(|l| label(base, r, l)).collect::<Vec<_>>(),
        "body": p.body, "comments": p.comments.len(),
        "created_at": time(p.created_at), "updated_at": time(p.updated_at),
        "closed_at": p.merged_at.map(time),
        "html_url": format!("{base}/{}/pull/{}", r.full_name(), p.number),
        "pull_request": {"url": format!("{url}/pulls/{}", p.number),
                          "html_url": format!("{base}/{}/pull/{}", r.full_name(), p.number),
                          "diff_url": format!("{base}/{}/pull/{}.diff", r.full_name(), p.number),
                          "patch_url": format!("{base}/{}/pull/{}.patch", r.full_name(), p.number),
                          "merged_at": p.merged_at.map(time)},
        "author_association": "MEMBER", "score": 1.0,
    })
}

/// A workflow run.
pub fn run(base: &str, r: &Repo, w: &WorkflowRun) -> Value {
    let url = repo_url(base, r);
    let run_url = format!("{url}/actions/runs/{}", w.id);
    let c = r.odb.commit(&w.head_sha);
    let person = |s: Option<&super::git::Signature>| {
        s.map(|s| json!({"name": s.name, "email": s.email}))
            .unwrap_or(json!({"name": "", "email": ""}))
    };
    json!({
        "id": w.id, "name": w.name, "node_id": format!("WFR_{}", w.id),
        "head_branch": w.branch, "head_sha": w.head_sha, "path": ".github/workflows/deploy.yml",
        "run_number": w.id % 1000, "run_attempt": 1, "event": w.event,
        "status": w.status, "conclusion": w.conclusion, "workflow_id": r.id * 10 + 1,
        "url": run_url, "html_url": format!("{base}/{}/actions/runs/{}", r.full_name(), w.id),
        "pull_requests": [], "created_at": time(w.created_at), "updated_at": time(w.updated_at),
        "run_started_at": time(w.created_at),
        "jobs_url": format!("{run_url}/jobs"), "logs_url": format!("{run_url}/logs"),
        "check_suite_url": format!("{url}/check-suites/{}", w.id),
        "artifacts_url": format!("{run_url}/artifacts"), "cancel_url": format!("{run_url}/cancel"),
        "rerun_url": format!("{run_url}/rerun"), "workflow_url": format!("{url}/actions/workflows/{}", r.id * 10 + 1),
        "head_commit": {
            "id": w.head_sha, "tree_id": c.map(|c| c.tree.clone()).unwrap_or_default(),
            "message": c.map(|c| c.message.clone()).unwrap_or_default(),
            "timestamp": time(c.map(|c| c.committer.time).unwrap_or(w.created_at)),
            "author": person(c.map(|c| &c.author)), "committer": person(c.map(|c| &c.committer)),
        },
        "repository": repository(base, r), "head_repository": repository(base, r),
    })
}

/// GitHub's error body.
pub fn error(message: &str, status: u16) -> Value {
    json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()})
}
