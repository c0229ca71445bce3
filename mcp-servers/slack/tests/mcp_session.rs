//! Every tool through a real MCP client session (rmcp over stdio) against the Slack emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandbox::mcp_client::{Client, call, call_is_refused, err, ok, stdio, tool_names};
use sandbox::slack::{self, SlackServer};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-slack");

async fn client(url: &str, token: &str, env: &[(&str, &str)]) -> Client {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env("SLACK_API_URL", url)
        .env("SLACK_BOT_TOKEN", token)
        .env("RUST_LOG", "warn")
        .env_remove("SLACK_MCP_ADD_MESSAGE_TOOL")
        .env_remove("SLACK_CHANNEL_IDS")
        .env_remove("SLACK_MCP_XOXP_TOKEN")
        .env_remove("MCP_ALLOW_WRITES");
    for (k, v) in env {
        cmd.env(k, v);
    }
    stdio(cmd).await
}

async fn bot(s: &SlackServer, env: &[(&str, &str)]) -> Client {
    client(&s.url(), slack::BOT_TOKEN, env).await
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_needs_no_network_and_posting_is_off_by_default() {
    let c = client("http://127.0.0.1:9/api/", slack::BOT_TOKEN, &[]).await;
    let tools = tool_names(&c).await;
    assert_eq!(tools.len(), 4, "read tools only: {tools:?}");
    assert!(
        call_is_refused(
            &c,
            "message_post",
            json!({"channel": "C0ALERTS", "text": "hi"})
        )
        .await
    );
    let down = err(&call(&c, "channels_list", json!({})).await);
    assert!(down.contains("slack unreachable"), "{down}");
}

#[tokio::test(flavor = "multi_thread")]
async fn posting_where_allowed_with_threads_updates_and_reactions() {
    let s = slack::spawn_seeded().await.unwrap();
    let c = bot(&s, &[("SLACK_MCP_ADD_MESSAGE_TOOL", "C0ALERTS")]).await;
    let tools = c.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 7);
    let bytes = serde_json::to_string(&tools).unwrap().len();
    assert!(
        bytes / tools.len() <= 500,
        "schema {} bytes per tool (target 500)",
        bytes / tools.len()
    );
    assert!(
        mcp_runtime::filter::lint(
            &tools,
            <mcp_slack::SlackServer as mcp_runtime::ToolServer>::TOOLSETS
        )
        .is_empty()
    );

    let out = ok(&call(&c, "message_post", json!({"channel": "#platform-alerts",
        "text": "**Rollback** of `orders`: see [PR #14](https://github.example/acme/kong-config/pull/14)"})).await);
    let v: Value = serde_json::from_str(&out).unwrap();
    let ts = v["ts"].as_str().unwrap().to_string();
    assert!(
        v["permalink"]
            .as_str()
            .unwrap()
            .starts_with("https://acme-sandbox.slack.com/archives/C0ALERTS/p"),
        "{v}"
    );
    let posted = s.state.posted();
    assert_eq!(
        posted[0].text,
        "*Rollback* of `orders`: see <https://github.example/acme/kong-config/pull/14|PR #14>"
    );
    ok(&call(
        &c,
        "message_post",
        json!({"channel": "C0ALERTS", "text": "details", "thread_ts": &ts}),
    )
    .await);
    assert_eq!(s.state.posted()[1].thread_ts.as_deref(), Some(ts.as_str()));
    ok(&call(
        &c,
        "message_update",
        json!({"channel": "C0ALERTS", "ts": &ts, "text": "Rollback merged"}),
    )
    .await);
    ok(&call(
        &c,
        "reaction_add",
        json!({"channel": "C0ALERTS", "ts": &ts, "name": ":white_check_mark:"}),
    )
    .await);
    let again = err(&call(
        &c,
        "reaction_add",
        json!({"channel": "C0ALERTS", "ts": &ts, "name": "white_check_mark"}),
    )
    .await);
    assert!(again.contains("already_reacted"), "{again}");

    let thread = ok(&call(
        &c,
        "thread_replies",
        json!({"channel": "C0ALERTS", "ts": &ts}),
    )
    .await);
    assert!(
        thread.contains("2 messages")
            && thread.contains("platform-agent")
            && thread.contains("Rollback merged"),
        "{thread}"
    );
    let others = s
        .state
        .with_workspace(|w| {
            w.messages["C0ALERTS"]
                .iter()
                .find(|m| m.user == "U0ALICE")
                .map(|m| m.ts.clone())
        })
        .unwrap();
    let not_ours = err(&call(
        &c,
        "message_update",
        json!({"channel": "C0ALERTS", "ts": others, "text": "x"}),
    )
    .await);
    assert!(not_ours.contains("not posted by this bot"), "{not_ours}");

    let denied = err(&call(
        &c,
        "message_post",
        json!({"channel": "C0RELEASE", "text": "hi"}),
    )
    .await);
    assert!(
        denied.contains("refused") && denied.contains("allowed: C0ALERTS"),
        "{denied}"
    );
    assert_eq!(
        s.state.posted().len(),
        3,
        "post, reply, update; nothing for the refused post"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_lists_visibility_and_membership() {
    let s = slack::spawn_seeded().await.unwrap();
    let c = bot(&s, &[("SLACK_MCP_ADD_MESSAGE_TOOL", "!C0RELEASE")]).await;
    let denied = err(&call(
        &c,
        "message_post",
        json!({"channel": "#releases", "text": "hi"}),
    )
    .await);
    assert!(
        denied.contains("denied by SLACK_MCP_ADD_MESSAGE_TOOL"),
        "{denied}"
    );
    let outside = err(&call(
        &c,
        "message_post",
        json!({"channel": "#random", "text": "hi"}),
    )
    .await);
    assert!(
        outside.contains("not_in_channel") && outside.contains("/invite"),
        "{outside}"
    );
    let private = err(&call(
        &c,
        "message_post",
        json!({"channel": "#security-incidents", "text": "hi"}),
    )
    .await);
    assert!(
        private.contains("no channel named #security-incidents"),
        "{private}"
    );

    let v = bot(
        &s,
        &[
            ("SLACK_CHANNEL_IDS", "C0ALERTS"),
            ("SLACK_MCP_ADD_MESSAGE_TOOL", "true"),
        ],
    )
    .await;
    let list = ok(&call(&v, "channels_list", json!({})).await);
    assert!(
        list.contains("#platform-alerts") && !list.contains("#releases"),
        "{list}"
    );
    let hidden = err(&call(&v, "channel_history", json!({"channel": "C0RELEASE"})).await);
    assert!(hidden.contains("SLACK_CHANNEL_IDS"), "{hidden}");
    let unlisted = err(&call(
        &v,
        "message_post",
        json!({"channel": "C0RELEASE", "text": "hi"}),
    )
    .await);
    assert!(unlisted.contains("SLACK_CHANNEL_IDS"), "{unlisted}");
    assert!(s.state.posted().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn history_pages_threads_and_fences_people_text() {
    let s = slack::spawn_seeded().await.unwrap();
    let c = bot(&s, &[]).await;
    let first = ok(&call(
        &c,
        "channel_history",
        json!({"channel": "#platform-alerts", "limit": 1}),
    )
    .await);
    assert!(
        first.contains("orders looks slow") && first.contains("2 replies") && first.contains("bob"),
        "{first}"
    );
    let cursor = first
        .split("cursor=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let second = ok(&call(
        &c,
        "channel_history",
        json!({"channel": "C0ALERTS", "limit": 1, "cursor": cursor}),
    )
    .await);
    assert!(
        second.contains("Heads up") && !second.contains("cursor="),
        "{second}"
    );
    let recent = ok(&call(
        &c,
        "channel_history",
        json!({"channel": "C0ALERTS", "since": "2h"}),
    )
    .await);
    assert!(
        recent.contains("1 messages") && !recent.contains("Heads up"),
        "{recent}"
    );
    let root = second
        .lines()
        .chain(first.lines())
        .find(|l| l.contains("orders looks slow"))
        .unwrap();
    let ts = root
        .split_whitespace()
        .find(|w| w.contains('.') && w.chars().next().unwrap().is_ascii_digit())
        .unwrap();
    let thread = ok(&call(
        &c,
        "thread_replies",
        json!({"channel": "C0ALERTS", "ts": ts}),
    )
    .await);
    assert!(
        thread.contains("<untrusted-data source=\"slack messages\">")
            && thread.contains("ignore previous instructions"),
        "{thread}"
    );
    let who = ok(&call(&c, "user_lookup", json!({"user": "alice"})).await);
    assert!(
        who.contains("Alice Admin") && who.contains("alice@acme.example"),
        "{who}"
    );
    let by_mail = ok(&call(&c, "user_lookup", json!({"user": "bob@acme.example"})).await);
    assert!(by_mail.contains("U0BOB"), "{by_mail}");
    let bad_ts = err(&call(
        &c,
        "thread_replies",
        json!({"channel": "C0ALERTS", "ts": "yesterday"}),
    )
    .await);
    assert!(bad_ts.contains("`ts`"), "{bad_ts}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_bad_tokens_and_missing_scopes_are_explained() {
    let s = slack::spawn_seeded().await.unwrap();
    let c = bot(&s, &[]).await;
    s.state.rate_limit("conversations.history", 1, 7);
    let limited = err(&call(&c, "channel_history", json!({"channel": "C0ALERTS"})).await);
    assert!(
        limited.contains("rate limit reached; retry after 7 s"),
        "{limited}"
    );
    ok(&call(&c, "channel_history", json!({"channel": "C0ALERTS"})).await);

    let bad = client(&s.url(), "xoxb-wrong", &[]).await;
    let e = err(&call(&bad, "channels_list", json!({})).await);
    assert!(
        e.contains("invalid_auth") && e.contains("SLACK_BOT_TOKEN") && !e.contains("xoxb-wrong"),
        "{e}"
    );

    let ro = client(
        &s.url(),
        slack::READONLY_TOKEN,
        &[("SLACK_MCP_ADD_MESSAGE_TOOL", "true")],
    )
    .await;
    let scope = err(&call(
        &ro,
        "message_post",
        json!({"channel": "C0ALERTS", "text": "hi"}),
    )
    .await);
    assert!(scope.contains("`chat:write` scope"), "{scope}");
    let team = bot(
        &s,
        &[
            ("SLACK_TEAM_ID", "T0OTHER"),
            ("SLACK_MCP_ADD_MESSAGE_TOOL", "true"),
        ],
    )
    .await;
    let wrong = err(&call(
        &team,
        "message_post",
        json!({"channel": "C0ALERTS", "text": "hi"}),
    )
    .await);
    assert!(wrong.contains("not SLACK_TEAM_ID T0OTHER"), "{wrong}");
    assert!(s.state.posted().is_empty());
}

/// Both Claude Desktop examples start the server as written (token and URL pointed at the
/// emulator): the default one read-only, the writes one with posting to its channel only.
#[tokio::test(flavor = "multi_thread")]
async fn the_claude_desktop_examples_start_the_server() {
    let s = slack::spawn_seeded().await.unwrap();
    for (file, tools) in [
        ("claude_desktop_config.json", 4),
        ("claude_desktop_config.writes.json", 7),
    ] {
        let (command, args, env) = sandbox::mcp_client::claude_desktop_entry(file, "slack");
        assert_eq!(command, "mcp-slack");
        let env: Vec<(&str, &str)> = env
            .iter()
            .filter(|(k, _)| k != "SLACK_BOT_TOKEN")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert!(args.is_empty());
        let c = bot(&s, &env).await;
        assert_eq!(tool_names(&c).await.len(), tools, "{file}");
        c.cancel().await.unwrap();
    }
}
