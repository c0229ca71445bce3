//! Which tools a server exposes: read-only mode, the writes switch, toolsets, allow/deny lists.
//!
//! The decision is a pure function of the tool definitions and the arguments, made once at
//! start-up. Unknown names are errors, never silently ignored: a typo in `--exclude-tools` must
//! not leave a dangerous tool exposed.

use std::collections::BTreeSet;

use rmcp::model::Tool;

use crate::args::ServerArgs;

/// Tool names grouped by toolset, as a server declares them.
pub type Toolsets = &'static [(&'static str, &'static [&'static str])];

/// A start-up configuration error in the tool filter arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("unknown toolset `{name}` in --toolsets (known: {known})")]
    UnknownToolset { name: String, known: String },
    #[error("unknown tool `{name}` in {flag} (known: {known})")]
    UnknownTool {
        name: String,
        flag: &'static str,
        known: String,
    },
    #[error("tool `{0}` changes things upstream: it needs --allow-writes and no --read-only")]
    WriteToolNotEnabled(String),
}

/// True when the tool declares itself read-only.
pub fn is_read_only(tool: &Tool) -> bool {
    tool.annotations
        .as_ref()
        .and_then(|a| a.read_only_hint)
        .unwrap_or(false)
}

/// The names of the tools to expose, or why the arguments are wrong.
pub fn select(
    tools: &[Tool],
    toolsets: Toolsets,
    args: &ServerArgs,
) -> Result<BTreeSet<String>, FilterError> {
    let all: BTreeSet<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let known_tools = || all.iter().copied().collect::<Vec<_>>().join(", ");
    let check = |names: &[String], flag: &'static str| {
        names
            .iter()
            .find(|n| !all.contains(n.as_str()))
            .map(|n| FilterError::UnknownTool {
                name: n.clone(),
                flag,
                known: known_tools(),
            })
    };
    if let Some(err) =
        check(&args.tools, "--tools").or_else(|| check(&args.exclude_tools, "--exclude-tools"))
    {
        return Err(err);
    }
    let mut in_sets: Option<BTreeSet<&str>> = None;
    if !args.toolsets.is_empty() {
        let mut chosen = BTreeSet::new();
        for name in &args.toolsets {
            let Some((_, members)) = toolsets.iter().find(|(set, _)| set == name) else {
                return Err(FilterError::UnknownToolset {
                    name: name.clone(),
                    known: toolsets
                        .iter()
                        .map(|(s, _)| *s)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            chosen.extend(members.iter().copied());
        }
        in_sets = Some(chosen);
    }
    let writes_on = args.allow_writes && !args.read_only;
    let mut selected = BTreeSet::new();
    for tool in tools {
        let name = tool.name.as_ref();
        if !args.tools.is_empty() && !args.tools.iter().any(|t| t == name) {
            continue;
        }
        if args.exclude_tools.iter().any(|t| t == name) {
            continue;
        }
        if in_sets.as_ref().is_some_and(|set| !set.contains(name)) {
            continue;
        }
        if !is_read_only(tool) && !writes_on {
            if args.tools.iter().any(|t| t == name) {
                return Err(FilterError::WriteToolNotEnabled(name.to_string()));
            }
            continue;
        }
        selected.insert(name.to_string());
    }
    Ok(selected)
}

/// Problems with a server's tool definitions (missing title or hints, inconsistent hints,
/// tools outside every toolset). Each server's tests assert this is empty.
pub fn lint(tools: &[Tool], toolsets: Toolsets) -> Vec<String> {
    let mut problems = Vec::new();
    for tool in tools {
        let name = tool.name.as_ref();
        let Some(a) = &tool.annotations else {
            problems.push(format!("{name}: no annotations"));
            continue;
        };
        if a.title.as_deref().is_none_or(str::is_empty) {
            problems.push(format!("{name}: no title"));
        }
        for (hint, value) in [
            ("readOnlyHint", a.read_only_hint),
            ("destructiveHint", a.destructive_hint),
            ("idempotentHint", a.idempotent_hint),
            ("openWorldHint", a.open_world_hint),
        ] {
            if value.is_none() {
                problems.push(format!("{name}: {hint} not set"));
            }
        }
        if a.read_only_hint == Some(true) && a.destructive_hint == Some(true) {
            problems.push(format!("{name}: read-only and destructive"));
        }
        if tool.description.as_deref().is_none_or(str::is_empty) {
            problems.push(format!("{name}: no description"));
        }
        let sets = toolsets.iter().filter(|(_, m)| m.contains(&name)).count();
        if sets != 1 {
            problems.push(format!("{name}: in {sets} toolsets, expected 1"));
        }
    }
    for (set, members) in toolsets {
        for m in *members {
            if !tools.iter().any(|t| t.name == *m) {
                problems.push(format!("toolset {set}: no tool named {m}"));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rmcp::model::ToolAnnotations;

    use super::*;

    fn tool(name: &'static str, read_only: bool) -> Tool {
        let mut t = Tool::new(name, "d", Arc::new(serde_json::Map::new()));
        let mut a = ToolAnnotations::new()
            .read_only(read_only)
            .destructive(!read_only);
        a.title = Some(name.to_string());
        a = a.idempotent(true).open_world(true);
        t.annotations = Some(a);
        t
    }

    const SETS: Toolsets = &[("core", &["get", "list"]), ("act", &["approve"])];

    fn tools() -> Vec<Tool> {
        vec![
            tool("get", true),
            tool("list", true),
            tool("approve", false),
        ]
    }

    fn names(s: &BTreeSet<String>) -> Vec<&str> {
        s.iter().map(String::as_str).collect()
    }

    #[test]
    fn writes_hidden_by_default_and_by_read_only() {
        let args = ServerArgs::default();
        assert_eq!(
            names(&select(&tools(), SETS, &args).unwrap_or_default()),
            ["get", "list"]
        );
        let args = ServerArgs {
            allow_writes: true,
            read_only: true,
            ..Default::default()
        };
        assert_eq!(
            names(&select(&tools(), SETS, &args).unwrap_or_default()),
            ["get", "list"]
        );
        let args = ServerArgs {
            allow_writes: true,
            ..Default::default()
        };
        assert_eq!(
            names(&select(&tools(), SETS, &args).unwrap_or_default()),
            ["approve", "get", "list"]
        );
    }

    #[test]
    fn toolsets_allow_and_deny_lists_compose() {
        let args = ServerArgs {
            toolsets: vec!["core".into()],
            exclude_tools: vec!["list".into()],
            allow_writes: true,
            ..Default::default()
        };
        assert_eq!(
            names(&select(&tools(), SETS, &args).unwrap_or_default()),
            ["get"]
        );
        let args = ServerArgs {
            tools: vec!["list".into()],
            ..Default::default()
        };
        assert_eq!(
            names(&select(&tools(), SETS, &args).unwrap_or_default()),
            ["list"]
        );
    }

    #[test]
    fn unknown_names_are_errors() {
        let args = ServerArgs {
            exclude_tools: vec!["gett".into()],
            ..Default::default()
        };
        assert!(matches!(
            select(&tools(), SETS, &args),
            Err(FilterError::UnknownTool { .. })
        ));
        let args = ServerArgs {
            toolsets: vec!["nope".into()],
            ..Default::default()
        };
        assert!(matches!(
            select(&tools(), SETS, &args),
            Err(FilterError::UnknownToolset { .. })
        ));
        let args = ServerArgs {
            tools: vec!["approve".into()],
            ..Default::default()
        };
        assert_eq!(
            select(&tools(), SETS, &args),
            Err(FilterError::WriteToolNotEnabled("approve".into()))
        );
    }

    #[test]
    fn lint_finds_missing_hints_and_orphans() {
        assert!(
            lint(&tools(), SETS).is_empty(),
            "{:?}",
            lint(&tools(), SETS)
        );
        let mut bare = tool("get", true);
        bare.annotations = None;
        let problems = lint(&[bare], &[("core", &["get", "ghost"])]);
        assert_eq!(
            problems,
            ["get: no annotations", "toolset core: no tool named ghost"]
        );
    }
}
