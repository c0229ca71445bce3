//! Fidelity: the real `kubectl` against the emulator (get, apply, patch --type=json, delete,
//! get -w, logs, and the ApprovalTask webhook seen through kubectl).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sandbox::kube;

struct Env {
    _server: kube::KubeServer,
    dir: tempfile::TempDir,
}

async fn start() -> Env {
    let server = kube::spawn_seeded().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kubeconfig"), server.kubeconfig("admin")).unwrap();
    Env {
        _server: server,
        dir,
    }
}

impl Env {
    /// `data.k` of the demo ConfigMap, read back through kubectl.
    async fn demo_value(&self) -> String {
        self.ok(&[
            "get",
            "cm",
            "demo",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.k}",
        ])
        .await
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("HOME", self.dir.path())
            .output()
            .expect("kubectl is installed")
    }

    async fn ok(&self, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let me = self.dir.path().to_path_buf();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("kubectl")
                .args(&args)
                .env("KUBECONFIG", me.join("kubeconfig"))
                .env("HOME", &me)
                .output()
                .expect("kubectl is installed")
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl failed: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_get_apply_patch_delete() {
    let env = start().await;
    let pods = env.ok(&["get", "pods", "-n", "shop", "-o", "name"]).await;
    assert_eq!(pods.lines().count(), 3, "{pods}");
    let tasks = env
        .ok(&["get", "approvaltasks.openshift-pipelines.org", "-A"])
        .await;
    assert!(
        tasks.contains("build-and-deploy-run-1-approve-deploy"),
        "{tasks}"
    );

    let manifest = env.dir.path().join("cm.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  namespace: shop\n  labels: {team: a}\ndata:\n  k: v1\n").unwrap();
    let out = env
        .ok(&[
            "apply",
            "--validate=false",
            "-f",
            manifest.to_str().unwrap(),
        ])
        .await;
    assert!(out.contains("configmap/demo created"), "{out}");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  namespace: shop\n  labels: {team: a}\ndata:\n  k: v2\n").unwrap();
    let out = env
        .ok(&[
            "apply",
            "--validate=false",
            "-f",
            manifest.to_str().unwrap(),
        ])
        .await;
    assert!(out.contains("configmap/demo configured"), "{out}");
    let value = env.demo_value().await;
    assert_eq!(value, "v2");
    let selected = env
        .ok(&["get", "cm", "-n", "shop", "-l", "team=a", "-o", "name"])
        .await;
    assert_eq!(selected.trim(), "configmap/demo");

    env.ok(&["patch", "cm", "demo", "-n", "shop", "--type=json", "-p", r#"[{"op":"test","path":"/data/k","value":"v2"},{"op":"replace","path":"/data/k","value":"v3"}]"#]).await;
    let value = env.demo_value().await;
    assert_eq!(value, "v3");
    let failed = env.kubectl(&[
        "patch",
        "cm",
        "demo",
        "-n",
        "shop",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/data/k","value":"nope"}]"#,
    ]);
    assert!(!failed.status.success());
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("invalid"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );

    let out = env.ok(&["delete", "cm", "demo", "-n", "shop"]).await;
    assert!(out.contains("deleted"), "{out}");
    let gone = env.kubectl(&["get", "cm", "demo", "-n", "shop"]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NotFound"));

    let logs = env
        .ok(&[
            "logs",
            "-n",
            "shop",
            "api-5f6d7c-xyz12",
            "--previous",
            "--tail=1",
        ])
        .await;
    assert_eq!(
        logs.trim(),
        "FATAL: password authentication failed for user \"shop\""
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_watch_sees_changes() {
    let env = start().await;
    let mut child = Command::new("kubectl")
        .args(["get", "configmaps", "-n", "shop", "-w", "-o", "name"])
        .env("KUBECONFIG", env.dir.path().join("kubeconfig"))
        .env("HOME", env.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let manifest = env.dir.path().join("watched.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched, namespace: shop}\n",
    )
    .unwrap();
    env.ok(&[
        "apply",
        "--validate=false",
        "-f",
        manifest.to_str().unwrap(),
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("configmap/watched"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_approval_webhook_rules() {
    let env = start().await;
    let task = "build-and-deploy-run-1-approve-deploy";
    // The admin is not an approver: denied by the webhook.
    let denied = env.kubectl(&[
        "patch",
        "approvaltask",
        task,
        "-n",
        "ci",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/approvers/0/input","value":"approve"}]"#,
    ]);
    assert!(!denied.status.success());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(stderr.contains("denied the request"), "{stderr}");
    // alice approves her own entry through her context.
    env.ok(&["--context", "alice", "patch", "approvaltask", task, "-n", "ci", "--type=json", "-p",
        r#"[{"op":"test","path":"/spec/approvers/0/name","value":"alice"},{"op":"replace","path":"/spec/approvers/0/input","value":"approve"}]"#]).await;
    let received = env
        .ok(&[
            "get",
            "approvaltask",
            task,
            "-n",
            "ci",
            "-o",
            "jsonpath={.status.approvalsReceived}/{.status.state}",
        ])
        .await;
    assert_eq!(received, "1/pending");
}
