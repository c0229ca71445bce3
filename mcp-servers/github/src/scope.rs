//! Which repositories the tools may touch: the `--repos` allow-list, checked before any call.

use mcp_runtime::ToolError;

/// An `owner/name` repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
}

impl Repo {
    /// The API path prefix `/repos/{owner}/{name}`.
    pub fn path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The allow-list (empty: any repository the token can see).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    allowed: Vec<String>,
}

impl Scope {
    /// A scope over `owner/name` entries (case-insensitive, as GitHub names are).
    pub fn new(allowed: Vec<String>) -> Self {
        Self {
            allowed: allowed
                .into_iter()
                .map(|r| r.trim().to_ascii_lowercase())
                .filter(|r| !r.is_empty())
                .collect(),
        }
    }

    /// Parses `repo` (`owner/name`; empty means the only allowed repository) and checks it.
    pub fn resolve(&self, repo: &str) -> Result<Repo, ToolError> {
        let repo = repo.trim().trim_end_matches(".git");
        let repo = repo
            .strip_prefix("https://github.com/")
            .unwrap_or(repo)
            .trim_matches('/');
        let chosen = if repo.is_empty() {
            match self.allowed.as_slice() {
                [only] => only.clone(),
                _ => {
                    return Err(ToolError::invalid(
                        "repo",
                        "give the repository as owner/name",
                    ));
                }
            }
        } else {
            repo.to_string()
        };
        let Some((owner, name)) = chosen
            .split_once('/')
            .filter(|(o, n)| valid_part(o) && valid_part(n))
        else {
            return Err(ToolError::invalid(
                "repo",
                format!("`{chosen}` is not owner/name (e.g. octo-org/octo-repo)"),
            ));
        };
        if !self.allowed.is_empty() && !self.allowed.contains(&chosen.to_ascii_lowercase()) {
            return Err(ToolError::Denied(format!(
                "repository {chosen} is not in this server's allow-list ({}); ask the operator to add it to --repos",
                self.allowed.join(", ")
            )));
        }
        Ok(Repo {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_refuses_other_repositories() {
        let s = Scope::new(vec!["Acme/Kong-Config".into()]);
        assert_eq!(
            s.resolve("acme/kong-config").unwrap().to_string(),
            "acme/kong-config"
        );
        assert_eq!(s.resolve("").unwrap().name, "kong-config");
        assert!(matches!(s.resolve("acme/shop"), Err(ToolError::Denied(_))));
        assert!(matches!(
            s.resolve("acme"),
            Err(ToolError::InvalidArgument { .. })
        ));
        assert!(matches!(
            s.resolve("../etc/passwd"),
            Err(ToolError::InvalidArgument { .. })
        ));
    }

    #[test]
    fn empty_allow_list_needs_an_explicit_repo() {
        let s = Scope::new(vec![]);
        assert!(s.resolve("").is_err());
        assert_eq!(
            s.resolve("https://github.com/a/b.git").unwrap().to_string(),
            "a/b"
        );
    }
}
