//! Fidelity of the GitHub emulator: octocrab's own typed API deserializes every response, object
//! ids match what `git` computes, and errors and rate limits look like GitHub's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use octocrab::Octocrab;
use octocrab::params::State;
use sandbox::github::{self, GitHubServer};

async fn start() -> (GitHubServer, Octocrab) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = github::spawn_seeded().await.unwrap();
    let octo = Octocrab::builder()
        .personal_token(github::TOKEN.to_string())
        .base_uri(server.url())
        .unwrap()
        .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
        .build()
        .unwrap();
    (server, octo)
}

#[tokio::test]
async fn octocrab_models_deserialize_every_read_endpoint() {
    let (server, octo) = start().await;
    let repo = octo.repos("acme", "kong-config");
    let repo_info = repo.get().await.unwrap();
    assert_eq!(repo_info.default_branch.as_deref(), Some("main"));

    let commits = repo
        .list_commits()
        .branch("main")
        .path("kong.yaml")
        .send()
        .await
        .unwrap();
    let messages: Vec<&str> = commits
        .items
        .iter()
        .map(|c| c.commit.message.as_str())
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(
        messages[0].starts_with("orders: move upstream"),
        "{messages:?}"
    );

    let bad = &commits.items[0];
    let full = octo
        .commits("acme", "kong-config")
        .get(&bad.sha)
        .await
        .unwrap();
    let files = full.files.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].filename, "kong.yaml");
    let patch = files[0].patch.as_deref().unwrap();
    assert!(
        patch.starts_with("@@ ") && patch.contains("+    host: orders-v2.shop.svc.cluster.local"),
        "{patch}"
    );
    assert_eq!((files[0].additions, files[0].deletions), (2, 2));

    let parent = full.parents[0].sha.clone().unwrap();
    let cmp = octo
        .commits("acme", "kong-config")
        .compare(&parent, "main")
        .send()
        .await
        .unwrap();
    assert_eq!(cmp.ahead_by, 2);
    assert_eq!(cmp.files.unwrap().len(), 2);

    let pulls = octo
        .pulls("acme", "kong-config")
        .list()
        .state(State::All)
        .send()
        .await
        .unwrap();
    assert_eq!(pulls.items.len(), 3);
    let pr = octo.pulls("acme", "kong-config").get(12).await.unwrap();
    assert!(pr.merged_at.is_some());
    assert_eq!(pr.merge_commit_sha.as_deref(), Some(bad.sha.as_str()));
    let pr_files = octo
        .pulls("acme", "kong-config")
        .list_files(12)
        .await
        .unwrap();
    assert_eq!(pr_files.items[0].filename, "kong.yaml");
    let of_commit = octo
        .commits("acme", "kong-config")
        .associated_pull_requests(octocrab::commits::PullRequestTarget::Sha(bad.sha.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(of_commit.items[0].number, 12);

    let runs = octo
        .workflows("acme", "kong-config")
        .list_all_runs()
        .branch("main")
        .event("push")
        .send()
        .await
        .unwrap();
    assert_eq!(runs.items.len(), 4);
    assert!(runs.items.iter().any(|r| r.head_sha == bad.sha));

    let checks = octo
        .checks("acme", "kong-config")
        .list_check_runs_for_git_ref(octocrab::params::repos::Commitish(bad.sha.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(checks.total_count, 2);

    let found = octo
        .search()
        .issues_and_pull_requests("repo:acme/kong-config is:pr orders")
        .send()
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].number, 12);

    let content = repo
        .get_content()
        .path("kong.yaml")
        .r#ref("main")
        .send()
        .await
        .unwrap();
    let text = content.items[0].decoded_content().unwrap();
    assert!(text.contains("orders-v2"), "{text}");
    assert!(
        server
            .state
            .requests()
            .iter()
            .all(|r| !r.starts_with("POST"))
    );
}

#[tokio::test]
async fn trees_match_what_git_computes() {
    let (server, _octo) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let (tree, files) = server
        .state
        .with_repo("acme/kong-config", |r| {
            let head = r.resolve("main").unwrap();
            let tree = r.odb.commit(&head).unwrap().tree.clone();
            let files: Vec<(String, Vec<u8>)> = r
                .files_at(&head)
                .into_iter()
                .map(|(p, (_, oid))| (p, r.odb.blob(&oid).unwrap().to_vec()))
                .collect();
            (tree, files)
        })
        .unwrap();
    for (path, data) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git is installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    assert_eq!(git(&["write-tree"]), tree);
}

#[tokio::test]
async fn errors_and_rate_limits_look_like_github() {
    let (server, octo) = start().await;
    let missing = octo.repos("acme", "nope").get().await.unwrap_err();
    match missing {
        octocrab::Error::GitHub { source, .. } => {
            assert_eq!(source.status_code.as_u16(), 404);
            assert_eq!(source.message, "Not Found");
        }
        other => panic!("{other:?}"),
    }
    let anonymous = Octocrab::builder()
        .base_uri(server.url())
        .unwrap()
        .build()
        .unwrap();
    let err = anonymous.repos("acme", "shop").get().await.unwrap_err();
    assert!(
        matches!(err, octocrab::Error::GitHub { ref source, .. } if source.status_code.as_u16() == 401),
        "{err:?}"
    );

    let resp = reqwest_get(&server, "/repos/acme/shop").await;
    assert_eq!(resp.0, 200);
    assert!(resp.1.contains("x-ratelimit-remaining"));
    server.state.secondary_limit(1, 7);
    let limited = reqwest_get(&server, "/repos/acme/shop").await;
    assert_eq!(limited.0, 403);
    assert!(limited.1.contains("retry-after: 7"), "{}", limited.1);
    server.state.exhaust_quota(600);
    let exhausted = reqwest_get(&server, "/repos/acme/shop").await;
    assert_eq!(exhausted.0, 403);
    assert!(
        exhausted.1.contains("x-ratelimit-remaining: 0"),
        "{}",
        exhausted.1
    );
}

/// Status and headers of a raw GET, for checks octocrab hides.
async fn reqwest_get(server: &GitHubServer, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nUser-Agent: t\r\nConnection: close\r\n\r\n",
        server.addr,
        github::TOKEN
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let status = buf[9..12].parse().unwrap();
    let head = buf.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    (status, head)
}
