//! Rendering `charts/agent-host` with the real Helm binary (`HELM`, else `helm` on `PATH`) and
//! reading what it produced.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::approval::root;

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// The Helm binary, if there is one. With `REQUIRE_HELM` set (CI), a missing Helm is an error.
pub fn helm() -> Result<Option<PathBuf>, Boxed> {
    let candidate = std::env::var_os("HELM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "helm".into());
    let found = Command::new(&candidate)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    match (found, std::env::var_os("REQUIRE_HELM").is_some()) {
        (true, _) => Ok(Some(candidate)),
        (false, true) => Err("REQUIRE_HELM is set but no helm binary was found (set HELM)".into()),
        (false, false) => Ok(None),
    }
}

/// `helm template` of the chart in `namespace` with `--set` values (`json:` prefix: `--set-json`);
/// every rendered object.
pub fn render(helm: &PathBuf, namespace: &str, sets: &[&str]) -> Result<Vec<Value>, Boxed> {
    let mut cmd = Command::new(helm);
    cmd.args(["template", "rel"])
        .arg(root().join("charts/agent-host"))
        .args(["--namespace", namespace]);
    for s in sets {
        match s.strip_prefix("json:") {
            Some(j) => cmd.args(["--set-json", j]),
            None => cmd.args(["--set", s]),
        };
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!(
            "helm template {sets:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let text = String::from_utf8(out.stdout)?;
    let mut docs = Vec::new();
    let mut current = String::new();
    for line in text.lines().chain(std::iter::once("---")) {
        if line.trim_end() == "---" {
            if current
                .lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            {
                let v: Value = serde_saphyr::from_str(&current)?;
                docs.push(v);
            }
            current.clear();
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    Ok(docs)
}

/// The (apiGroup, resource, verb) triples a set of RBAC rules grants.
pub fn grants(rules: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for r in rules.as_array().into_iter().flatten() {
        for g in r["apiGroups"].as_array().into_iter().flatten() {
            for res in r["resources"].as_array().into_iter().flatten() {
                for v in r["verbs"].as_array().into_iter().flatten() {
                    out.push((
                        g.as_str().unwrap_or_default().to_string(),
                        res.as_str().unwrap_or_default().to_string(),
                        v.as_str().unwrap_or_default().to_string(),
                    ));
                }
            }
        }
    }
    out
}
