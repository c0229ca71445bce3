//! Every tool through a real MCP client session (rmcp over stdio) against the GitHub emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use sandbox::github::{self, GitHubServer};
use sandbox::mcp_client::{Client, call, call_is_refused, err, ok, stdio, tool_names};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-github");
const KONG: &str = "acme/kong-config";

async fn emulator() -> GitHubServer {
    github::spawn_seeded().await.unwrap()
}

async fn client(gh: &GitHubServer, args: &[&str]) -> Client {
    client_with_token(gh, args, github::TOKEN).await
}

async fn client_with_token(gh: &GitHubServer, args: &[&str], token: &str) -> Client {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .env("GITHUB_API_URL", gh.url())
        .env("GITHUB_PERSONAL_ACCESS_TOKEN", token)
        .env("RUST_LOG", "warn")
        .env_remove("GITHUB_TOKEN")
        .env_remove("MCP_ALLOW_WRITES");
    stdio(cmd).await
}

async fn names(c: &Client) -> Vec<String> {
    tool_names(c).await
}

/// History of kong-config's main branch, newest first.
fn main_log(gh: &GitHubServer) -> Vec<String> {
    gh.state
        .with_repo(KONG, |r| {
            let head = r.resolve("main").unwrap();
            r.odb.first_parent_log(&head)
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn read_tools_answer_compactly_and_fence_untrusted_text() {
    let gh = emulator().await;
    let c = client(&gh, &[]).await;
    let listed = c.list_all_tools().await.unwrap();
    let bytes = serde_json::to_string(&listed).unwrap().len();
    assert!(
        bytes / listed.len() <= 500,
        "schema {} bytes per tool (target 500)",
        bytes / listed.len()
    );
    let tools = names(&c).await;
    assert_eq!(tools.len(), 9, "writes are off by default: {tools:?}");

    let file = ok(&call(&c, "file_get", json!({"repo": KONG, "path": "kong.yaml"})).await);
    assert!(
        file.contains("orders-v2.shop.svc.cluster.local")
            && file.contains("<untrusted-data source=\"file kong.yaml\">"),
        "{file}"
    );
    let dir = ok(&call(&c, "file_get", json!({"repo": KONG, "path": ".github"})).await);
    assert!(
        dir.contains("dir") && dir.contains(".github/workflows"),
        "{dir}"
    );

    let commits = ok(&call(
        &c,
        "commits_list",
        json!({"repo": KONG, "path": "kong.yaml", "limit": 2}),
    )
    .await);
    assert!(
        commits.contains("orders: move upstream") && commits.contains("cursor=\"2\""),
        "{commits}"
    );
    let page2 = ok(&call(
        &c,
        "commits_list",
        json!({"repo": KONG, "path": "kong.yaml", "limit": 2, "cursor": "2"}),
    )
    .await);
    assert!(
        page2.contains("Initial decK configuration") && !page2.contains("cursor="),
        "{page2}"
    );
    let bad_time = err(&call(
        &c,
        "commits_list",
        json!({"repo": KONG, "since": "yesterday"}),
    )
    .await);
    assert!(bad_time.contains("`since`"), "{bad_time}");

    let log = main_log(&gh);
    let bad = &log[1];
    let raw = call(&c, "commit_get", json!({"repo": KONG, "sha": bad})).await;
    let data = raw.structured_content.clone().unwrap();
    assert_eq!(data["files"][0]["path"], "kong.yaml");
    assert_eq!(
        (data["additions"].as_u64(), data["author"].as_str()),
        (Some(2), Some("carol"))
    );
    assert!(
        data.get("message").is_none(),
        "no free text in the data for programs"
    );
    let commit = ok(&raw);
    assert!(
        commit.contains("modified  2  2  kong.yaml") && commit.contains("+    host: orders-v2"),
        "{commit}"
    );
    assert!(
        commit.find("files:").unwrap() < commit.find("patches:").unwrap(),
        "summary first: {commit}"
    );

    let cmp = ok(&call(
        &c,
        "commits_compare",
        json!({"repo": KONG, "base": &log[2], "head": "main"}),
    )
    .await);
    assert!(
        cmp.contains("ahead (ahead 2, behind 0)") && cmp.contains("README.md"),
        "{cmp}"
    );

    let pulls = ok(&call(&c, "pulls_list", json!({"repo": KONG, "state": "all"})).await);
    assert!(
        pulls.contains("12") && pulls.contains("merged") && pulls.contains("orders-v2->main"),
        "{pulls}"
    );
    let found = ok(&call(
        &c,
        "pulls_list",
        json!({"repo": KONG, "state": "all", "query": "orders"}),
    )
    .await);
    assert!(
        found.contains("1 pull requests match") && found.contains("orders: move upstream"),
        "{found}"
    );

    let raw = call(&c, "pull_get", json!({"repo": "acme/shop", "number": 43})).await;
    let data = raw.structured_content.clone().unwrap();
    assert_eq!(data["files"][0]["path"], "src/checkout.rs");
    assert_eq!(data["reviews"][0]["state"], "CHANGES_REQUESTED");
    assert_eq!(data["commit_authors"], json!(["carol"]));
    let pr = ok(&raw);
    assert!(
        pr.contains("#43 open by carol")
            && pr.contains("CHANGES_REQUESTED")
            && pr.contains("src/checkout.rs"),
        "{pr}"
    );
    let merged = ok(&call(&c, "pull_get", json!({"repo": KONG, "number": 12})).await);
    assert!(
        merged.contains("deck gateway validate")
            && merged.contains("<untrusted-data source=\"pull request\">"),
        "{merged}"
    );
    // The seed hides its injection in an HTML comment (what a rendered PR page does not
    // show): the fence drops comments.
    assert!(
        !merged.contains("ignore previous instructions")
            && merged.contains("Points the orders service at the v2 deployment."),
        "the hidden comment is removed, the visible text stays: {merged}"
    );

    let raw = call(&c, "commit_pulls", json!({"repo": KONG, "sha": bad})).await;
    assert_eq!(
        raw.structured_content.clone().unwrap()["pulls"],
        json!([{"number": 12, "merged": true, "base": "main", "merge_commit_sha": bad, "head_sha": bad}])
    );
    let prs = ok(&raw);
    assert!(
        prs.contains("12") && prs.contains("orders-v2->main"),
        "{prs}"
    );

    let runs = ok(&call(
        &c,
        "workflow_runs",
        json!({"repo": KONG, "branch": "main", "event": "push"}),
    )
    .await);
    assert!(
        runs.contains("4 of 4 runs") && runs.contains(&bad[..7]) && runs.contains("success"),
        "{runs}"
    );

    let raw = call(&c, "security_alerts", json!({"repo": "acme/shop"})).await;
    let data = raw.structured_content.clone().unwrap();
    assert_eq!(data["dependabot"]["severities"], json!(["high"]));
    assert_eq!(data["secret-scanning"]["severities"], json!(["critical"]));
    let alerts = ok(&raw);
    assert!(
        alerts.contains("dependabot: 1 high") && alerts.contains("code-scanning: 1 medium"),
        "{alerts}"
    );
    assert!(
        alerts.contains("Amazon AWS Access Key ID") && !alerts.contains("AKIAIOSFODNN7SANDBOX1"),
        "{alerts}"
    );
    let none = ok(&call(&c, "security_alerts", json!({"repo": KONG})).await);
    assert!(
        none.contains("dependabot: unavailable") && none.contains("secret-scanning: unavailable"),
        "{none}"
    );

    let missing = err(&call(&c, "pull_get", json!({"repo": KONG, "number": 999})).await);
    assert!(missing.contains("not found"), "{missing}");
    let no_sha = err(&call(&c, "commit_get", json!({"repo": KONG, "sha": " "})).await);
    assert!(no_sha.contains("`sha`"), "{no_sha}");
    assert!(
        gh.state.requests().iter().all(|r| r.starts_with("GET")),
        "read tools only read"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_list_and_write_switches_are_enforced() {
    let gh = emulator().await;
    let c = client(&gh, &["--repos", KONG]).await;
    let refused = err(&call(&c, "commits_list", json!({"repo": "acme/shop"})).await);
    assert!(
        refused.contains("not in this server's allow-list"),
        "{refused}"
    );
    let implied = ok(&call(&c, "commits_list", json!({"limit": 1})).await);
    assert!(implied.contains("acme/kong-config: 1 commits"), "{implied}");
    assert!(
        call_is_refused(&c, "commit_revert", json!({"repo": KONG, "sha": "abc"})).await,
        "writes are hidden and not callable without --allow-writes"
    );

    let w = client(&gh, &["--allow-writes"]).await;
    let tools = names(&w).await;
    assert!(
        tools.contains(&"commit_revert".to_string()) && !tools.contains(&"pull_merge".to_string()),
        "{tools:?}"
    );
    assert!(call_is_refused(&w, "pull_merge", json!({"repo": "acme/shop", "number": 43})).await);

    let m = client(&gh, &["--allow-writes", "--allow-merge"]).await;
    let merged = ok(&call(&m, "pull_merge", json!({"repo": "acme/shop", "number": 43})).await);
    assert!(merged.contains("\"merged\":true"), "{merged}");
    let again = err(&call(&m, "pull_merge", json!({"repo": "acme/shop", "number": 43})).await);
    assert!(
        again.contains("conflict") && again.contains("not mergeable"),
        "{again}"
    );
    let tools = m.list_all_tools().await.unwrap();
    let problems = mcp_runtime::filter::lint(
        &tools,
        <mcp_github::GitHubServer as mcp_runtime::ToolServer>::TOOLSETS,
    );
    assert!(problems.is_empty(), "{problems:?}");
    for t in tools
        .iter()
        .filter(|t| !mcp_runtime::filter::is_read_only(t))
    {
        // Additive writes (a new branch, PR or comment) destroy nothing; what can move a
        // branch's content (a revert, a merge) is destructive.
        let destructive = matches!(&*t.name, "commit_revert" | "pull_merge");
        assert_eq!(
            t.annotations.as_ref().and_then(|a| a.destructive_hint),
            Some(destructive),
            "{}",
            t.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_restores_the_parents_files_tree_by_tree_and_opens_a_pr() {
    let gh = emulator().await;
    let c = client(&gh, &["--allow-writes", "--repos", KONG]).await;
    let log = main_log(&gh);
    let (bad, head) = (log[1].clone(), log[0].clone());
    let out = ok(&call(&c, "commit_revert", json!({"sha": &bad[..10]})).await);
    let v: Value = serde_json::from_str(&out).unwrap();
    let branch = v["branch"].as_str().unwrap().to_string();
    assert_eq!(branch, format!("revert-{}", &bad[..7]));
    assert_eq!(
        v["files"],
        json!([{"path": "kong.yaml", "action": "restored"}])
    );

    gh.state
        .with_repo(KONG, |r| {
            let new = r.resolve(&branch).unwrap();
            let c = r.odb.commit(&new).unwrap().clone();
            assert_eq!(
                c.parents,
                vec![head.clone()],
                "the revert sits on the base head"
            );
            assert_eq!(
                c.message,
                format!(
                    "Revert \"orders: move upstream to orders-v2\"\n\nThis reverts commit {bad}."
                )
            );
            let parent = r.odb.commit(&bad).unwrap().parents[0].clone();
            let mut expected: BTreeMap<_, _> = r.files_at(&head);
            expected.insert("kong.yaml".into(), r.files_at(&parent)["kong.yaml"].clone());
            assert_eq!(
                r.files_at(&new),
                expected,
                "head's tree with kong.yaml from the parent"
            );
            assert_ne!(
                r.files_at(&new)["README.md"],
                r.files_at(&parent)["README.md"],
                "later README change kept"
            );
        })
        .unwrap();

    let pr = ok(&call(&c, "pull_create", json!({"head": &branch, "title": "Revert orders upstream", "body": "503s on orders-route", "labels": ["rollback"]})).await);
    let pr: Value = serde_json::from_str(&pr).unwrap();
    assert_eq!(pr["base"], "main");
    let number = pr["number"].as_u64().unwrap();
    let dup = err(&call(
        &c,
        "pull_create",
        json!({"head": &branch, "title": "again"}),
    )
    .await);
    assert!(dup.contains("already exists"), "{dup}");
    ok(&call(
        &c,
        "pull_comment",
        json!({"number": number, "body": "Opened by the rollback flow"}),
    )
    .await);
    let labels = gh
        .state
        .with_repo(KONG, |r| r.pull(number).unwrap().labels.clone())
        .unwrap();
    assert_eq!(labels, vec!["rollback".to_string()]);
    let again = err(&call(&c, "commit_revert", json!({"sha": &bad})).await);
    assert!(again.contains("already exists"), "{again}");
    let listed = ok(&call(&c, "pulls_list", json!({"head": &branch})).await);
    assert!(listed.contains("Revert orders upstream"), "{listed}");
    let made = ok(&call(
        &c,
        "branch_create",
        json!({"branch": "hotfix/x", "from": &log[2]}),
    )
    .await);
    assert!(made.contains(&log[2]), "{made}");
    let bad_name = err(&call(&c, "branch_create", json!({"branch": "a..b"})).await);
    assert!(bad_name.contains("`branch`"), "{bad_name}");
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_conflicts_when_later_commits_touched_the_files() {
    let gh = emulator().await;
    let bad = main_log(&gh)[1].clone();
    gh.state
        .with_repo(KONG, |r| {
            let mut files = BTreeMap::new();
            files.insert(
                "kong.yaml".to_string(),
                Some(b"_format_version: \"3.0\"\nservices: []\n".to_vec()),
            );
            r.commit_files("main", &files, "wipe services", "dave", github::now());
        })
        .unwrap();
    let c = client(&gh, &["--allow-writes"]).await;
    let conflict = err(&call(&c, "commit_revert", json!({"repo": KONG, "sha": bad})).await);
    assert!(
        conflict.contains("conflicts with later changes to kong.yaml")
            && conflict.contains("\"wipe services\"")
            && conflict.contains("lines 2 at the base's head"),
        "{conflict}"
    );
    assert!(
        gh.state.requests().iter().all(|r| !r.starts_with("POST")),
        "nothing written on conflict"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_waited_out_or_reported_with_the_reset_time() {
    let gh = emulator().await;
    let c = client(&gh, &["--max-retry-wait", "5"]).await;
    gh.state.secondary_limit(1, 1);
    let waited = ok(&call(&c, "commits_list", json!({"repo": KONG, "limit": 1})).await);
    assert!(waited.contains("1 commits"), "{waited}");
    gh.state.secondary_limit(1, 120);
    let limited = err(&call(&c, "commits_list", json!({"repo": KONG})).await);
    assert!(
        limited.contains("rate limit reached; retry after 120 s"),
        "{limited}"
    );
    gh.state.exhaust_quota(900);
    let exhausted = err(&call(&c, "commits_list", json!({"repo": KONG})).await);
    assert!(
        exhausted.contains("rate limit reached; retry after"),
        "{exhausted}"
    );
    let before = gh.state.requests().len();
    let local = err(&call(&c, "commits_list", json!({"repo": KONG})).await);
    assert!(local.contains("rate limit"), "{local}");
    assert_eq!(
        gh.state.requests().len(),
        before,
        "refused locally without spending a request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_diffs_are_capped_with_a_narrowing_hint() {
    let gh = emulator().await;
    let big: String = (0..5000)
        .map(|i| format!("line {i} of a generated file\n"))
        .collect();
    let sha = gh
        .state
        .with_repo(KONG, |r| {
            let mut files = BTreeMap::new();
            files.insert("generated.txt".to_string(), Some(big.into_bytes()));
            r.commit_files("main", &files, "generate", "dave", github::now())
        })
        .unwrap();
    let c = client(&gh, &[]).await;
    let capped = ok(&call(&c, "commit_get", json!({"repo": KONG, "sha": &sha})).await);
    assert!(
        capped.contains("4961 more patch lines; raise patch_lines"),
        "{capped}"
    );
    let cut = ok(&call(
        &c,
        "commit_get",
        json!({"repo": KONG, "sha": &sha, "patch_lines": 5000}),
    )
    .await);
    assert!(cut.len() <= 17 * 1024, "{}", cut.len());
    assert!(
        cut.contains("lower patch_lines"),
        "{}",
        &cut[cut.len() - 300..]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_is_explained() {
    let gh = emulator().await;
    let c = client_with_token(&gh, &[], "ghp_wrong").await;
    let e = err(&call(&c, "commits_list", json!({"repo": KONG})).await);
    assert!(
        e.contains("HTTP 401") && e.contains("Bad credentials") && !e.contains("ghp_wrong"),
        "{e}"
    );
}

/// `examples/claude_desktop_config.json` starts the server as written, with the emulator's URL
/// and token in place of the placeholders; its allow-list is enforced.
#[tokio::test(flavor = "multi_thread")]
async fn claude_desktop_example_starts_the_server() {
    let gh = emulator().await;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/claude_desktop_config.json"
    );
    let config: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let entry = &config["mcpServers"]["github"];
    assert_eq!(entry["command"], "mcp-github");
    let args: Vec<&str> = entry["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let c = client(&gh, &args).await;
    assert_eq!(
        c.peer_info()
            .unwrap()
            .server_info
            .as_ref()
            .map(|s| s.name.as_str()),
        Some("mcp-github")
    );
    let refused = err(&call(&c, "commits_list", json!({"repo": KONG})).await);
    assert!(refused.contains("your-org/your-repo"), "{refused}");
    c.cancel().await.unwrap();
}

/// The writes example adds the write tools (merge stays hidden without `--allow-merge`).
#[tokio::test(flavor = "multi_thread")]
async fn the_claude_desktop_writes_example_exposes_the_write_tools() {
    let gh = emulator().await;
    let (command, args, _) =
        sandbox::mcp_client::claude_desktop_entry("claude_desktop_config.writes.json", "github");
    assert_eq!(command, "mcp-github");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let c = client(&gh, &args).await;
    let tools = sandbox::mcp_client::tool_names(&c).await;
    assert!(
        tools.iter().any(|t| t == "commit_revert") && !tools.iter().any(|t| t == "pull_merge"),
        "{tools:?}"
    );
    c.cancel().await.unwrap();
}
