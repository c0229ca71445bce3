//! Deterministic approval policy: rules evaluated by code before the model (a hard reject costs
//! no model call) and after it (a model approve counts only if every rule passes). Pure: facts
//! in, findings out. Each rule has three outcomes: it passed, it was *violated* (a known fact
//! fails it: positive evidence), or it is *inconclusive* (a fact it needs is unknown, partial or
//! unavailable). Only a violation may reject; an inconclusive rule means a human decides (the
//! AI abstains and says what is missing), never a reject and never an approve.

use serde::Deserialize;

use super::glob;

/// What a violated rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The task is rejected, whatever the model says.
    Reject,
    /// The AI may not approve; a human must decide (the AI abstains).
    RequireHuman,
}

/// What a rule checks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum Check {
    /// Every image is pinned by digest.
    ImageDigest,
    /// No image uses one of these tags (e.g. `latest`).
    ImageTag { deny: Vec<String> },
    /// No changed path matches these globs.
    Paths { deny: Vec<String> },
    /// At most this many changed lines and files.
    DiffSize {
        #[serde(default)]
        max_lines: Option<u64>,
        #[serde(default)]
        max_files: Option<u64>,
    },
    /// These checks (empty: every check reported) concluded `success`.
    ChecksGreen {
        #[serde(default)]
        required: Vec<String>,
    },
    /// No open security alert at or above this severity (low, medium, high, critical).
    SecurityAlerts { max_severity: String },
    /// Now is inside the window (UTC): weekdays 1 = Monday .. 7, hours [start, end).
    ChangeWindow {
        days: Vec<u8>,
        start_hour: u8,
        end_hour: u8,
    },
    /// The task's namespace and pipeline are in scope (empty list: any).
    Scope {
        #[serde(default)]
        namespaces: Vec<String>,
        #[serde(default)]
        pipelines: Vec<String>,
    },
    /// Every commit author is on the list.
    Authors { allow: Vec<String> },
    /// No alert at or above `min_severity` (default critical) is firing with these labels
    /// (`$namespace` is the task's namespace), through mcp-prometheus' `alerts`. An alert a
    /// person silenced in Alertmanager does not count; Prometheus unreadable is inconclusive.
    FiringAlerts {
        #[serde(default)]
        labels: std::collections::BTreeMap<String, String>,
        #[serde(default = "critical")]
        min_severity: String,
    },
}

fn critical() -> String {
    "critical".into()
}

/// An alert firing in Prometheus, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiringAlert {
    pub name: String,
    pub severity: Option<String>,
    pub labels: std::collections::BTreeMap<String, String>,
    /// Silenced or inhibited in Alertmanager.
    pub suppressed: bool,
}

/// One rule. (serde cannot deny unknown fields through `flatten`, so the check's fields are
/// not checked for typos; required fields still are.)
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub action: Action,
    #[serde(flatten)]
    pub check: Check,
}

/// The policy file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub rules: Vec<Rule>,
    /// Where a full approver may complete approvals alone. Empty: nowhere.
    #[serde(default)]
    pub autonomy: Autonomy,
}

/// The full approver's scope: a task is inside when its namespace and pipeline are listed
/// (`*` matches any). Both lists empty means no autonomy at all.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Autonomy {
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub pipelines: Vec<String>,
}

impl Autonomy {
    /// Whether the task of `facts` is inside the scope.
    pub fn covers(&self, f: &Facts) -> bool {
        let listed = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x == v);
        // An embedded spec has no Pipeline object: no name its author did not choose.
        !self.namespaces.is_empty()
            && !self.pipelines.is_empty()
            && !f.pipeline.is_empty()
            && listed(&self.namespaces, &f.namespace)
            && listed(&self.pipelines, &f.pipeline)
    }
}

/// An image a pipeline deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub reference: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// What the evidence established; `None` means unknown (and fails the rules that need it).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub namespace: String,
    pub pipeline: String,
    pub images: Vec<Image>,
    /// Why the image set may be incomplete (a Task unreadable, a reference not resolved yet):
    /// the image rules cannot pass while any is left.
    pub images_unresolved: Vec<String>,
    pub changed_paths: Option<Vec<String>>,
    pub lines_changed: Option<u64>,
    /// (check name, conclusion)
    pub checks: Option<Vec<(String, String)>>,
    /// severities of open alerts, of the kinds that could be read (None: none could)
    pub open_alerts: Option<Vec<String>>,
    /// Alert kinds that could not be read (no access, not enabled, GitHub failing): each kind
    /// is its own fact, so a token without secret-scanning access cannot hide a leaked key.
    pub alerts_unavailable: Vec<String>,
    pub authors: Option<Vec<String>>,
    /// Alerts firing now (None: Prometheus not asked or unreadable).
    pub firing: Option<Vec<FiringAlert>>,
    /// Epoch seconds.
    pub now: i64,
}

/// A rule that did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    pub action: Action,
    pub detail: String,
    /// The rule could not be evaluated (`detail` says what is missing): never a reject.
    pub inconclusive: bool,
}

/// What one rule found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Pass,
    Violated(String),
    Unknown(String),
}

use Outcome::{Pass, Unknown, Violated};

/// `Violated(detail)` when `cond`, else `Pass`.
fn violated_if(cond: bool, detail: impl FnOnce() -> String) -> Outcome {
    if cond { Violated(detail()) } else { Pass }
}

/// The gate's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Pass,
    RequireHuman(Vec<Finding>),
    Reject(Vec<Finding>),
}

/// An alert's severity label as a rank; one without a known severity counts as critical (a
/// firing alert nobody classified is not evidence of calm).
fn alert_rank(severity: Option<&str>) -> u8 {
    match severity.map(str::to_ascii_lowercase).as_deref() {
        Some("info" | "none" | "low") => 1,
        Some("warning" | "warn" | "medium") => 2,
        Some("error" | "high" | "major") => 3,
        _ => 4,
    }
}

fn rank(severity: &str) -> u8 {
    match severity.to_ascii_lowercase().as_str() {
        "low" | "note" => 1,
        "medium" | "moderate" | "warning" => 2,
        "high" | "error" => 3,
        "critical" => 4,
        _ => 3,
    }
}

/// Pass when every image was resolved; otherwise what is missing (an image seen is evidence
/// of a violation, an image not seen is no evidence of a pass).
fn images_complete(f: &Facts, what: &str) -> Outcome {
    if f.images_unresolved.is_empty() {
        Pass
    } else {
        Unknown(format!(
            "not every image could be resolved, so {what} cannot be checked: {}",
            f.images_unresolved.join("; ")
        ))
    }
}

/// What `check` finds for `facts`.
fn evaluate(check: &Check, f: &Facts) -> Outcome {
    match check {
        Check::ImageDigest => {
            let loose: Vec<&str> = f
                .images
                .iter()
                .filter(|i| i.digest.is_none())
                .map(|i| i.reference.as_str())
                .collect();
            if !loose.is_empty() {
                return Violated(format!("not pinned by digest: {}", loose.join(", ")));
            }
            if f.images.is_empty() {
                return Unknown(
                    "no deployed images were found, so pinning cannot be checked".into(),
                );
            }
            images_complete(f, "pinning")
        }
        Check::ImageTag { deny } => {
            if f.images.is_empty() {
                // An empty list is no evidence that no image uses a denied tag.
                return Unknown("no deployed images were found, so tags cannot be checked".into());
            }
            // An image with neither tag nor digest resolves to `latest`, as Docker does.
            let tag_of = |i: &Image| match (&i.tag, &i.digest) {
                (Some(t), _) => Some(t.clone()),
                (None, None) => Some("latest".to_string()),
                (None, Some(_)) => None,
            };
            let bad: Vec<&str> = f
                .images
                .iter()
                .filter(|i| tag_of(i).is_some_and(|t| deny.contains(&t)))
                .map(|i| i.reference.as_str())
                .collect();
            if !bad.is_empty() {
                return Violated(format!(
                    "denied tag ({}): {}",
                    deny.join(", "),
                    bad.join(", ")
                ));
            }
            images_complete(f, "tags")
        }
        Check::Paths { deny } => match &f.changed_paths {
            None => Unknown("the changed files are unknown".into()),
            Some(paths) => {
                let hits: Vec<&str> = paths
                    .iter()
                    .filter(|p| deny.iter().any(|g| glob::matches(g, p)))
                    .map(String::as_str)
                    .collect();
                // A path with a token-like segment arrives redacted: what it was cannot be
                // matched, so it cannot pass the rule either.
                let redacted = paths
                    .iter()
                    .any(|p| p.contains(mcp_runtime::redact::REDACTED));
                if hits.is_empty() && redacted {
                    return Unknown(
                        "a changed path was redacted (it holds a token-like segment), so it cannot be matched against the protected paths".into(),
                    );
                }
                violated_if(!hits.is_empty(), || {
                    format!("changes protected paths: {}", hits.join(", "))
                })
            }
        },
        Check::DiffSize {
            max_lines,
            max_files,
        } => {
            let (Some(lines), Some(paths)) = (f.lines_changed, &f.changed_paths) else {
                return Unknown("the diff size is unknown".into());
            };
            if max_lines.is_some_and(|m| lines > m) {
                return Violated(format!(
                    "{lines} changed lines (max {})",
                    max_lines.unwrap_or_default()
                ));
            }
            match max_files.filter(|m| paths.len() as u64 > *m) {
                Some(m) => Violated(format!("{} changed files (max {m})", paths.len())),
                None => Pass,
            }
        }
        Check::ChecksGreen { required } => match &f.checks {
            None => Unknown("check results are unknown".into()),
            Some(checks) => {
                let failing: Vec<String> = if required.is_empty() {
                    if checks.is_empty() {
                        return Unknown("no checks reported yet".into());
                    }
                    checks
                        .iter()
                        .filter(|(_, c)| c != "success")
                        .map(|(n, c)| format!("{n}={c}"))
                        .collect()
                } else {
                    required
                        .iter()
                        .filter(|r| !checks.iter().any(|(n, c)| n == *r && c == "success"))
                        .map(|r| {
                            format!(
                                "{r}={}",
                                checks
                                    .iter()
                                    .find(|(n, _)| n == r)
                                    .map(|(_, c)| c.as_str())
                                    .unwrap_or("missing")
                            )
                        })
                        .collect()
                };
                // A required check not reported (yet) is missing evidence, not a failure; a
                // reported conclusion other than success is a failure.
                let unfinished = |f: &String| {
                    ["=missing", "=pending", "=in_progress", "=queued"]
                        .iter()
                        .any(|s| f.ends_with(s))
                };
                if failing.is_empty() {
                    Pass
                } else if failing.iter().all(unfinished) {
                    Unknown(format!(
                        "checks not reported or not finished: {}",
                        failing.join(", ")
                    ))
                } else {
                    Violated(format!("checks not green: {}", failing.join(", ")))
                }
            }
        },
        Check::SecurityAlerts { max_severity } => match &f.open_alerts {
            None => Unknown("security alerts are unknown".into()),
            Some(alerts) => {
                let over: Vec<&str> = alerts
                    .iter()
                    .filter(|s| rank(s) >= rank(max_severity))
                    .map(String::as_str)
                    .collect();
                // A violation in the kinds read stands; without one, an unread kind may hold it.
                if over.is_empty() && !f.alerts_unavailable.is_empty() {
                    return Unknown(format!(
                        "{} alerts are unavailable",
                        f.alerts_unavailable.join(", ")
                    ));
                }
                violated_if(!over.is_empty(), || {
                    format!(
                        "{} open alert(s) at or above {max_severity}: {}",
                        over.len(),
                        over.join(", ")
                    )
                })
            }
        },
        Check::ChangeWindow {
            days,
            start_hour,
            end_hour,
        } => {
            let Ok(t) = jiff::Timestamp::from_second(f.now) else {
                return Unknown("the current time is unknown".into());
            };
            let t = t.to_zoned(jiff::tz::TimeZone::UTC);
            let day = t.weekday().to_monday_one_offset() as u8;
            let hour = t.hour() as u8;
            let inside = days.contains(&day) && hour >= *start_hour && hour < *end_hour;
            violated_if(!inside, || {
                format!(
                    "outside the change window (now {} UTC)",
                    t.strftime("%a %H:%M")
                )
            })
        }
        Check::Scope {
            namespaces,
            pipelines,
        } => {
            if !namespaces.is_empty() && !namespaces.contains(&f.namespace) {
                return Violated(format!("namespace {} is outside the scope", f.namespace));
            }
            violated_if(
                !pipelines.is_empty() && !pipelines.contains(&f.pipeline),
                || format!("pipeline {} is outside the scope", f.pipeline),
            )
        }
        Check::Authors { allow } => match &f.authors {
            None => Unknown("the commit authors are unknown".into()),
            Some(authors) => {
                let other: Vec<&str> = authors
                    .iter()
                    .filter(|a| !allow.contains(a))
                    .map(String::as_str)
                    .collect();
                violated_if(!other.is_empty(), || {
                    format!("authors not on the allow-list: {}", other.join(", "))
                })
            }
        },
        Check::FiringAlerts {
            labels,
            min_severity,
        } => match &f.firing {
            None => Unknown(
                "firing alerts are unknown (Prometheus not configured or unreadable)".into(),
            ),
            Some(alerts) => {
                let wanted: Vec<(&String, &String)> = labels
                    .iter()
                    .map(|(k, v)| (k, if v == "$namespace" { &f.namespace } else { v }))
                    .collect();
                let hits: Vec<String> = alerts
                    .iter()
                    .filter(|a| !a.suppressed)
                    .filter(|a| alert_rank(a.severity.as_deref()) >= alert_rank(Some(min_severity)))
                    .filter(|a| wanted.iter().all(|(k, v)| a.labels.get(*k) == Some(*v)))
                    .map(|a| {
                        format!(
                            "{} ({})",
                            a.name,
                            a.severity.as_deref().unwrap_or("no severity")
                        )
                    })
                    .collect();
                violated_if(!hits.is_empty(), || {
                    format!("firing at or above {min_severity}: {}", hits.join(", "))
                })
            }
        },
    }
}

impl Policy {
    /// Whether a rule needs the firing alerts (so the evidence asks Prometheus).
    pub fn needs_firing_alerts(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.check, Check::FiringAlerts { .. }))
    }

    /// Every rule that did not pass: violated or inconclusive.
    pub fn evaluate(&self, facts: &Facts) -> Vec<Finding> {
        self.rules
            .iter()
            .filter_map(|r| {
                let (detail, inconclusive) = match evaluate(&r.check, facts) {
                    Pass => return None,
                    Violated(d) => (d, false),
                    Unknown(d) => (d, true),
                };
                Some(Finding {
                    rule: r.id.clone(),
                    action: r.action,
                    detail,
                    inconclusive,
                })
            })
            .collect()
    }

    /// The truth table: reject when a `reject` rule is *violated* (positive evidence); else a
    /// human decides when any rule is violated (`require-human`) or inconclusive (whatever
    /// its action: missing evidence never rejects); else pass.
    pub fn gate(&self, facts: &Facts) -> Gate {
        let findings = self.evaluate(facts);
        if findings
            .iter()
            .any(|f| f.action == Action::Reject && !f.inconclusive)
        {
            Gate::Reject(findings)
        } else if findings.is_empty() {
            Gate::Pass
        } else {
            Gate::RequireHuman(findings)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        serde_saphyr::from_str(
            r#"
rules:
  - {id: no-latest, description: "No :latest images", action: reject, check: image-tag, deny: [latest]}
  - {id: pinned, description: "Images pinned by digest", action: require-human, check: image-digest}
  - {id: secrets, description: "No changes to secrets or CI", action: require-human, check: paths, deny: ["**/secrets/**", ".github/workflows/*"]}
  - {id: small, description: "Small diffs only", action: require-human, check: diff-size, max_lines: 400, max_files: 20}
  - {id: green, description: "Required checks green", action: reject, check: checks-green, required: [cargo test]}
  - {id: alerts, description: "No open critical alerts", action: require-human, check: security-alerts, max_severity: critical}
  - {id: window, description: "Weekdays 08-18 UTC", action: require-human, check: change-window, days: [1, 2, 3, 4, 5], start_hour: 8, end_hour: 18}
"#,
        )
        .unwrap()
    }

    fn facts() -> Facts {
        Facts {
            namespace: "ci".into(),
            pipeline: "build-and-deploy".into(),
            images: vec![Image {
                reference: "registry.example.com/shop/api:1.4.0@sha256:ab".into(),
                tag: Some("1.4.0".into()),
                digest: Some("sha256:ab".into()),
            }],
            images_unresolved: Vec::new(),
            changed_paths: Some(vec!["Cargo.toml".into()]),
            lines_changed: Some(2),
            checks: Some(vec![("cargo test".into(), "success".into())]),
            open_alerts: Some(vec!["high".into()]),
            alerts_unavailable: Vec::new(),
            authors: Some(vec!["dependabot[bot]".into()]),
            firing: Some(vec![]),
            // Thursday 2026-11-19 10:00 UTC
            now: 1_763_546_400,
        }
    }

    #[test]
    fn a_routine_change_passes() {
        assert_eq!(policy().gate(&facts()), Gate::Pass);
    }

    #[test]
    fn latest_rejects_and_other_rules_require_a_human() {
        let mut f = facts();
        f.images.push(Image {
            reference: "busybox:latest".into(),
            tag: Some("latest".into()),
            digest: None,
        });
        f.images.push(Image {
            reference: "alpine".into(),
            tag: None,
            digest: None,
        });
        let Gate::Reject(findings) = policy().gate(&f) else {
            panic!()
        };
        let ids: Vec<&str> = findings.iter().map(|x| x.rule.as_str()).collect();
        assert_eq!(ids, vec!["no-latest", "pinned"]);
        let mut f = facts();
        f.changed_paths = Some(vec![".github/workflows/deploy.yml".into()]);
        f.now += 3 * 86_400; // Sunday
        let Gate::RequireHuman(findings) = policy().gate(&f) else {
            panic!()
        };
        assert_eq!(
            findings.iter().map(|x| x.rule.as_str()).collect::<Vec<_>>(),
            vec!["secrets", "window"]
        );
    }

    #[test]
    fn unknown_facts_make_rules_inconclusive_and_never_reject() {
        // The GitHub quota ran out: files, diff, checks, alerts and authors are all unknown.
        let mut f = facts();
        f.checks = None;
        f.open_alerts = None;
        f.changed_paths = None;
        f.lines_changed = None;
        f.authors = None;
        let Gate::RequireHuman(findings) = policy().gate(&f) else {
            panic!(
                "missing evidence must never reject: {:?}",
                policy().gate(&f)
            )
        };
        let green = findings.iter().find(|x| x.rule == "green").unwrap();
        assert!(green.inconclusive && green.detail.contains("unknown"));
        assert!(findings.iter().all(|x| x.inconclusive));
        // No images found: neither "no latest" nor "pinned" can pass vacuously.
        let mut f = facts();
        f.images.clear();
        let Gate::RequireHuman(findings) = policy().gate(&f) else {
            panic!()
        };
        assert_eq!(
            findings.iter().map(|x| x.rule.as_str()).collect::<Vec<_>>(),
            vec!["no-latest", "pinned"]
        );
        // Images found but one Task unreadable: the seen ones pass, the set does not.
        let mut f = facts();
        f.images_unresolved = vec!["task deploy: Task kubectl-deploy could not be read".into()];
        let Gate::RequireHuman(findings) = policy().gate(&f) else {
            panic!("{:?}", policy().gate(&f))
        };
        assert!(
            findings
                .iter()
                .all(|x| x.inconclusive && x.detail.contains("kubectl-deploy"))
        );
        // A seen `latest` image is positive evidence, resolved or not.
        f.images[0].tag = Some("latest".into());
        assert!(matches!(policy().gate(&f), Gate::Reject(_)));
    }

    /// The README's truth table, cell by cell: rule action x outcome -> gate.
    #[test]
    fn an_unreadable_alert_kind_makes_the_alert_rule_inconclusive() {
        let p = policy();
        let mut f = facts();
        f.alerts_unavailable = vec!["secret-scanning".into()];
        let alerts = p.evaluate(&f);
        let rule = alerts.iter().find(|x| x.rule == "alerts");
        assert!(
            rule.is_some_and(|x| x.inconclusive && x.detail.contains("secret-scanning")),
            "{alerts:?}"
        );
        // A critical alert in a kind that was read is a violation whatever else is missing.
        f.open_alerts = Some(vec!["critical".into()]);
        let rule = p.evaluate(&f).into_iter().find(|x| x.rule == "alerts");
        assert!(rule.is_some_and(|x| !x.inconclusive), "violated");
    }

    #[test]
    fn a_redacted_path_cannot_pass_the_path_rule() {
        let p = policy();
        let mut f = facts();
        f.changed_paths = Some(vec!["config/[REDACTED]/kong.yaml".into()]);
        let findings = p.evaluate(&f);
        let paths = findings.iter().find(|x| x.rule == "secrets");
        assert!(
            paths.is_some_and(|x| x.inconclusive && x.detail.contains("redacted")),
            "{findings:?}"
        );
    }

    #[test]
    fn the_truth_table() {
        let one = |action: &str, checks: Option<Vec<(String, String)>>| {
            let p: Policy = serde_saphyr::from_str(&format!(
                "rules:\n  - {{id: green, description: g, action: {action}, check: checks-green, required: [test]}}\n"
            ))
            .unwrap();
            let mut f = facts();
            f.checks = checks;
            match p.gate(&f) {
                Gate::Pass => "pass",
                Gate::RequireHuman(_) => "human",
                Gate::Reject(_) => "reject",
            }
        };
        let passed = || Some(vec![("test".to_string(), "success".to_string())]);
        let failed = || Some(vec![("test".to_string(), "failure".to_string())]);
        let running = || Some(vec![("test".to_string(), "in_progress".to_string())]);
        assert_eq!(one("reject", passed()), "pass");
        assert_eq!(one("reject", failed()), "reject");
        assert_eq!(one("reject", None), "human");
        assert_eq!(one("reject", running()), "human");
        assert_eq!(one("reject", Some(vec![])), "human", "not reported yet");
        assert_eq!(one("require-human", passed()), "pass");
        assert_eq!(one("require-human", failed()), "human");
        assert_eq!(one("require-human", None), "human");
        // One violated reject rule rejects even when another rule is inconclusive.
        let mut f = facts();
        f.images.push(Image {
            reference: "busybox:latest".into(),
            tag: Some("latest".into()),
            digest: None,
        });
        f.checks = None;
        assert!(matches!(policy().gate(&f), Gate::Reject(_)));
    }

    #[test]
    fn a_critical_alert_firing_in_the_target_namespace_is_a_violation() {
        let p: Policy = serde_saphyr::from_str(
            "rules:\n  - {id: calm, description: calm, action: reject, check: firing-alerts, labels: {namespace: $namespace}}\n",
        )
        .unwrap();
        let alert = |ns: &str, severity: Option<&str>, suppressed: bool| FiringAlert {
            name: "KongRouteFailing".into(),
            severity: severity.map(str::to_string),
            labels: [("namespace".to_string(), ns.to_string())].into(),
            suppressed,
        };
        let gate = |alerts: Option<Vec<FiringAlert>>| {
            let mut f = facts();
            f.firing = alerts;
            p.gate(&f)
        };
        assert_eq!(gate(Some(vec![])), Gate::Pass);
        assert!(
            matches!(gate(Some(vec![alert("ci", Some("critical"), false)])), Gate::Reject(f) if f[0].detail.contains("KongRouteFailing"))
        );
        assert_eq!(
            gate(Some(vec![alert("prod", Some("critical"), false)])),
            Gate::Pass,
            "another namespace"
        );
        assert_eq!(
            gate(Some(vec![alert("ci", Some("warning"), false)])),
            Gate::Pass,
            "below critical"
        );
        assert_eq!(
            gate(Some(vec![alert("ci", Some("critical"), true)])),
            Gate::Pass,
            "silenced by a person"
        );
        assert!(
            matches!(gate(Some(vec![alert("ci", None, false)])), Gate::Reject(_)),
            "unclassified counts"
        );
        assert!(
            matches!(gate(None), Gate::RequireHuman(f) if f[0].inconclusive),
            "Prometheus unreadable"
        );
        assert!(p.needs_firing_alerts() && !policy().needs_firing_alerts());
    }
}
