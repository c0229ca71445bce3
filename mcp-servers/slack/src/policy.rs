//! Where the server may post: `SLACK_MCP_ADD_MESSAGE_TOOL` unset means nowhere, `true` any
//! visible channel, `C1,C2` only those, `!C3,!C4` all visible channels but those. Channels must
//! also be visible (`SLACK_CHANNEL_IDS`, when set).

use mcp_runtime::ToolError;

/// The posting rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostPolicy {
    Off,
    Any,
    Only(Vec<String>),
    AllBut(Vec<String>),
}

impl PostPolicy {
    /// Parses the `SLACK_MCP_ADD_MESSAGE_TOOL` value.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        let v = value.map(str::trim).unwrap_or("");
        if v.is_empty() || v.eq_ignore_ascii_case("false") || v == "0" {
            return Ok(Self::Off);
        }
        if v.eq_ignore_ascii_case("true") || v == "1" {
            return Ok(Self::Any);
        }
        let items: Vec<&str> = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let negated = items.iter().filter(|i| i.starts_with('!')).count();
        if negated == items.len() {
            Ok(Self::AllBut(
                items
                    .iter()
                    .map(|i| i.trim_start_matches('!').to_string())
                    .collect(),
            ))
        } else if negated == 0 {
            Ok(Self::Only(items.iter().map(|i| i.to_string()).collect()))
        } else {
            Err(format!(
                "SLACK_MCP_ADD_MESSAGE_TOOL mixes allowed and !denied channels: `{v}`"
            ))
        }
    }

    /// Whether posting to `channel` (an id) is allowed.
    pub fn check(&self, channel: &str) -> Result<(), ToolError> {
        match self {
            Self::Off => Err(ToolError::Denied(
                "posting is switched off (SLACK_MCP_ADD_MESSAGE_TOOL is unset)".into(),
            )),
            Self::Any => Ok(()),
            Self::Only(list) if list.iter().any(|c| c == channel) => Ok(()),
            Self::Only(list) => Err(ToolError::Denied(format!(
                "posting to {channel} is not allowed; allowed: {}",
                list.join(", ")
            ))),
            Self::AllBut(list) if list.iter().any(|c| c == channel) => Err(ToolError::Denied(
                format!("posting to {channel} is denied by SLACK_MCP_ADD_MESSAGE_TOOL"),
            )),
            Self::AllBut(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_existing_configuration_values_mean_what_they_say() {
        assert_eq!(PostPolicy::parse(None), Ok(PostPolicy::Off));
        assert_eq!(PostPolicy::parse(Some("true")), Ok(PostPolicy::Any));
        let only = PostPolicy::parse(Some("C1, C2")).unwrap();
        assert!(only.check("C1").is_ok() && only.check("C3").is_err());
        let but = PostPolicy::parse(Some("!C3")).unwrap();
        assert!(but.check("C1").is_ok() && but.check("C3").is_err());
        assert!(PostPolicy::parse(Some("C1,!C3")).is_err());
        assert!(PostPolicy::Off.check("C1").is_err());
    }
}
