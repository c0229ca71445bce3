//! Which recent config commit caused an incident, decided deterministically: a candidate must
//! have gone live (its deploy run finished, else its commit time) before the onset (the start
//! of the first failing minute, plus a tolerance `skew` for clocks and for errors that begin
//! within the minute of a deploy) and not longer than `max_lead` before it, and must have
//! touched the failing route, its service, or a global plugin; a candidate whose change could
//! not be read completely is unknown and blames nobody. One such candidate is the culprit; several
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
    /// Its change is not fully known (a version of the config file could not be read): it can
    /// never be the culprit, and while it could be, nobody is.
    pub unknown: Option<String>,
}

/// When the errors began: the first failing bucket `[start, end)` (a minute, or five when the
/// run is older than the minute series).
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
    skew: i64,
) -> Verdict {
    let mut fits = Vec::new();
    let mut ruled_out = Vec::new();
    let mut unknown = Vec::new();
    // An onset known only to a coarser bucket (five minutes, for runs older than the minute
    // series reaches) may lie anywhere in it up to its last minute: a deploy inside the bucket
    // may have caused it.
    let latest = onset.start + (onset.end - onset.start - 60).max(0);
    for c in candidates {
        if c.live_at > latest + skew {
            ruled_out.push(format!(
                "{} went live {} s after the errors began (more than the {skew} s tolerance), so it cannot have caused them",
                short(&c.sha),
                c.live_at - latest
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
        if let Some(why) = &c.unknown {
            unknown.push(format!("{} ({why})", short(&c.sha)));
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
        let lead = onset.start - c.live_at;
        let mut why = vec![format!(
            "went live at {} ({}), {} the first failing minute began",
            jiff::Timestamp::from_second(c.live_at)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            c.live_source,
            if lead >= 0 {
                format!("{lead} s before")
            } else {
                format!("{} s after (within the {skew} s tolerance)", -lead)
            }
        )];
        why.extend(hits);
        fits.push((c, why));
    }
    if !unknown.is_empty() {
        // A commit whose change is unknown may be the one that broke the route: blaming any
        // other would be a guess.
        ruled_out.push(format!(
            "the change of {} could not be read, so no commit can be blamed with confidence",
            unknown.join(", ")
        ));
        return Verdict::NoCulprit { why: ruled_out };
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
            unknown: None,
        }
    }

    /// The first failing minute.
    const ONSET: Onset = Onset {
        start: 10_000,
        end: 10_060,
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
            60,
        );
        assert!(matches!(v, Verdict::Culprit { sha, .. } if sha == "aaaaaaa1"));
    }

    #[test]
    fn the_onset_minute_is_exact_and_the_tolerance_bounded() {
        let at = |live| {
            attribute(
                &[cand("c0000001", live, Some("orders"))],
                &["orders-route".into()],
                ONSET,
                1800,
                60,
            )
        };
        // Within the tolerance after the onset: blamed, and it says so.
        assert!(
            matches!(at(10_045), Verdict::Culprit { why, .. } if why[0].contains("45 s after (within the 60 s tolerance)"))
        );
        // One minute and more after the onset: never.
        assert!(matches!(at(10_061), Verdict::NoCulprit { .. }));
        assert!(matches!(at(10_200), Verdict::NoCulprit { .. }));
    }

    #[test]
    fn a_coarse_onset_counts_a_deploy_anywhere_in_its_bucket() {
        // Only the five-minute bucket is known (a run older than the minute series): the
        // errors may have begun in its last minute.
        let coarse = Onset {
            start: 10_000,
            end: 10_300,
        };
        let at = |live| {
            attribute(
                &[cand("c0000001", live, Some("orders"))],
                &["orders-route".into()],
                coarse,
                1800,
                60,
            )
        };
        assert!(matches!(at(10_200), Verdict::Culprit { .. }));
        assert!(matches!(at(10_300), Verdict::Culprit { .. }));
        assert!(matches!(at(10_301), Verdict::NoCulprit { .. }));
    }

    #[test]
    fn an_unreadable_change_blames_nobody() {
        let mut unread = cand("u0000001", 9_800, Some("catalog"));
        unread.unknown = Some("kong.yaml unreadable at its parent".into());
        let v = attribute(
            &[cand("aaaaaaa1", 9_900, Some("orders")), unread],
            &["orders-route".into()],
            ONSET,
            1800,
            60,
        );
        assert!(
            matches!(v, Verdict::NoCulprit { why } if why.iter().any(|w| w.contains("could not be read")))
        );
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
            60,
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
            60,
        );
        assert!(matches!(two, Verdict::Ambiguous { .. }));
    }
}
