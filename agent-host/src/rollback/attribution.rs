//! Which recent config commit caused an incident, decided deterministically: a candidate must
//! have gone live (its deploy run finished, else its commit time) before the end of the first
//! failing time bucket and not longer than `max_lead` before it began, and must have touched the
//! failing route, its service, or a global plugin. One such candidate is the culprit; several
//! or none make the evidence ambiguous, and no pull request is opened. Pure.

use super::deck::Touched;
use super::pass::short;

/// A commit that changed the config file.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub sha: String,
    /// When it went live, and how we know.
    pub live_at: i64,
    pub live_source: String,
    pub touched: Touched,
}

/// When the errors began: the first failing bucket `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Onset {
    pub start: i64,
    pub end: i64,
}

/// The attribution.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// One candidate fits; `why` lists the reasons.
    Culprit { sha: String, why: Vec<String> },
    /// Several fit equally.
    Ambiguous { shas: Vec<String> },
    /// None fits; `why` says what ruled each out.
    NoCulprit { why: Vec<String> },
}

/// Ranks `candidates` for failing `routes` with errors since `onset`.
pub fn attribute(
    candidates: &[Candidate],
    routes: &[String],
    onset: Onset,
    max_lead: i64,
) -> Verdict {
    let mut fits = Vec::new();
    let mut ruled_out = Vec::new();
    for c in candidates {
        if c.live_at >= onset.end {
            ruled_out.push(format!(
                "{} went live after the errors began, so it cannot have caused them",
                short(&c.sha)
            ));
            continue;
        }
        if c.live_at < onset.start - max_lead {
            ruled_out.push(format!(
                "{} went live {} min before the onset: too early",
                short(&c.sha),
                (onset.start - c.live_at) / 60
            ));
            continue;
        }
        let hits: Vec<String> = routes.iter().filter_map(|r| c.touched.affects(r)).collect();
        if hits.is_empty() {
            ruled_out.push(format!(
                "{} touched nothing the failing routes use",
                short(&c.sha)
            ));
            continue;
        }
        let mut why = vec![format!(
            "went live at {} ({}), {} s before the end of the first failing minute bucket",
            jiff::Timestamp::from_second(c.live_at)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            c.live_source,
            onset.end - c.live_at
        )];
        why.extend(hits);
        fits.push((c, why));
    }
    match fits.len() {
        0 => Verdict::NoCulprit { why: ruled_out },
        1 => {
            let (c, why) = fits.remove(0);
            Verdict::Culprit {
                sha: c.sha.clone(),
                why,
            }
        }
        _ => {
            // The latest to go live wins only when it alone touched the route itself.
            fits.sort_by_key(|(c, _)| std::cmp::Reverse(c.live_at));
            let direct: Vec<_> = fits
                .iter()
                .filter(|(c, _)| routes.iter().any(|r| c.touched.routes.contains(r)))
                .collect();
            if direct.len() == 1 {
                let (c, why) = direct[0];
                return Verdict::Culprit {
                    sha: c.sha.clone(),
                    why: why.clone(),
                };
            }
            Verdict::Ambiguous {
                shas: fits.iter().map(|(c, _)| c.sha.clone()).collect(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cand(sha: &str, live_at: i64, service: Option<&str>) -> Candidate {
        let mut t = Touched {
            route_service: BTreeMap::from([("orders-route".into(), "orders".into())]),
            ..Touched::default()
        };
        if let Some(s) = service {
            t.services.insert(s.into());
        }
        Candidate {
            sha: sha.into(),
            live_at,
            live_source: "deploy run".into(),
            touched: t,
        }
    }

    const ONSET: Onset = Onset {
        start: 10_000,
        end: 10_300,
    };

    #[test]
    fn the_change_that_went_live_just_before_the_onset_is_the_culprit() {
        let v = attribute(
            &[
                cand("aaaaaaa1", 9_900, Some("orders")),
                cand("bbbbbbb2", 5_000, Some("orders")),
            ],
            &["orders-route".into()],
            ONSET,
            1800,
        );
        assert!(matches!(v, Verdict::Culprit { sha, .. } if sha == "aaaaaaa1"));
    }

    #[test]
    fn a_change_after_the_onset_or_elsewhere_is_not_blamed() {
        let v = attribute(
            &[
                cand("late0001", 10_400, Some("orders")),
                cand("other001", 9_900, Some("catalog")),
            ],
            &["orders-route".into()],
            ONSET,
            1800,
        );
        match v {
            Verdict::NoCulprit { why } => {
                assert!(why[0].contains("after the errors began"));
                assert!(why[1].contains("touched nothing"));
            }
            other => panic!("{other:?}"),
        }
        let two = attribute(
            &[
                cand("a1", 9_900, Some("orders")),
                cand("b2", 9_800, Some("orders")),
            ],
            &["orders-route".into()],
            ONSET,
            1800,
        );
        assert!(matches!(two, Verdict::Ambiguous { .. }));
    }
}
