//! The label scope every query is confined to (`--scope 'namespace=~"ci|prod"'`).
//!
//! The scope's matchers are added to every selector of a query *in its syntax tree*, parsed
//! with PromQL's grammar (promql-parser) and printed back, never spliced into the text: a
//! query cannot close a brace, comment out a matcher or reach a series the scope excludes,
//! because what is sent is the parsed query with the matchers ANDed into each selector (and
//! into each alternative of a `{a="1" or b="2"}` selector). Text that does not parse is
//! refused. Label sets the server shows without a query (alerts, targets) are filtered by the
//! same matchers.

use promql_parser::label::Matcher;
use promql_parser::parser::{self, Expr};

/// Scope matchers (empty: everything).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    matchers: Vec<Matcher>,
}

/// A scope or query that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    #[error("the scope `{text}` is not a PromQL matcher list: {message}")]
    BadScope { text: String, message: String },
    #[error("not a PromQL expression: {0}")]
    BadQuery(String),
    #[error("`match` must be a series selector such as `up{{job=\"api\"}}`")]
    NotASelector,
}

impl Scope {
    /// Parses `namespace=~"ci|prod",env="prod"` (with or without braces).
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Self::default());
        }
        let inner = t
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(t);
        let bad = |message: String| ScopeError::BadScope {
            text: t.to_string(),
            message,
        };
        match parser::parse(&format!("{{{inner}}}")).map_err(bad)? {
            Expr::VectorSelector(vs) if vs.matchers.or_matchers.is_empty() => Ok(Self {
                matchers: vs.matchers.matchers,
            }),
            _ => Err(bad("write label matchers only, without `or`".into())),
        }
    }

    /// Whether there is no scope.
    pub fn is_empty(&self) -> bool {
        self.matchers.is_empty()
    }

    /// The scope as PromQL matchers, for people.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.matchers.iter().map(|m| m.to_string()).collect();
        format!("{{{}}}", parts.join(", "))
    }

    /// `query` with the scope added to every selector, as the text to send.
    ///
    /// The parser, the injection and the printer all recurse over the expression, so a deeply
    /// nested query (`((((...))))`, `- - - m`, `m + m + ... + m`) is parsed on a thread with a
    /// large stack and capped in length: a query from a model must not overflow the server's.
    pub fn confine(&self, query: &str) -> Result<String, ScopeError> {
        const MAX_QUERY: usize = 16 * 1024;
        let query = query.trim();
        if query.len() > MAX_QUERY {
            return Err(ScopeError::BadQuery(format!(
                "{} bytes; at most {MAX_QUERY}",
                query.len()
            )));
        }
        let (scope, text) = (self.clone(), query.to_string());
        let worker = std::thread::Builder::new()
            .name("promql-parse".into())
            .stack_size(256 * 1024 * 1024)
            .spawn(move || -> Result<String, ScopeError> {
                let mut expr = parser::parse(&text).map_err(ScopeError::BadQuery)?;
                if !scope.is_empty() {
                    scope.inject(&mut expr)?;
                }
                Ok(expr.to_string())
            })
            .map_err(|e| ScopeError::BadQuery(format!("could not parse: {e}")))?;
        worker
            .join()
            .map_err(|_| ScopeError::BadQuery("too deeply nested".into()))?
    }

    /// A `match[]` series selector confined to the scope (the scope alone when `selector`
    /// is empty; `None` when there is neither).
    pub fn selector(&self, selector: &str) -> Result<Option<String>, ScopeError> {
        if selector.trim().is_empty() {
            return Ok((!self.is_empty()).then(|| self.describe()));
        }
        let confined = self.confine(selector)?;
        match parser::parse(&confined).map_err(ScopeError::BadQuery)? {
            Expr::VectorSelector(_) => Ok(Some(confined)),
            _ => Err(ScopeError::NotASelector),
        }
    }

    /// Whether a label set (an alert's, a target's) lies inside the scope. A label the set
    /// lacks reads as the empty string, as in PromQL.
    pub fn admits<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.matchers
            .iter()
            .all(|m| m.is_match(label(&m.name).unwrap_or("")))
    }

    /// [`Scope::admits`] for a JSON label object (`{"namespace": "ci", ...}`).
    pub fn admits_labels(&self, labels: &serde_json::Value) -> bool {
        self.admits(|k| labels.get(k).and_then(serde_json::Value::as_str))
    }

    fn inject(&self, expr: &mut Expr) -> Result<(), ScopeError> {
        match expr {
            Expr::VectorSelector(vs) => {
                add(&mut vs.matchers, &self.matchers);
                Ok(())
            }
            Expr::MatrixSelector(ms) => {
                add(&mut ms.vs.matchers, &self.matchers);
                Ok(())
            }
            Expr::Aggregate(a) => {
                self.inject(&mut a.expr)?;
                if let Some(p) = a.param.as_mut() {
                    self.inject(p)?;
                }
                Ok(())
            }
            Expr::Unary(u) => self.inject(&mut u.expr),
            Expr::Binary(b) => {
                self.inject(&mut b.lhs)?;
                self.inject(&mut b.rhs)
            }
            Expr::Paren(p) => self.inject(&mut p.expr),
            Expr::Subquery(s) => self.inject(&mut s.expr),
            Expr::Call(c) => c.args.args.iter_mut().try_for_each(|a| self.inject(a)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
            // Not produced by the parser; refused rather than sent unconfined.
            Expr::Extension(_) => Err(ScopeError::BadQuery(
                "extension expressions are not supported".into(),
            )),
        }
    }
}

fn add(m: &mut promql_parser::label::Matchers, scope: &[Matcher]) {
    if m.or_matchers.is_empty() {
        m.matchers.extend(scope.iter().cloned());
    } else {
        for alt in &mut m.or_matchers {
            alt.extend(scope.iter().cloned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::parse(r#"namespace=~"ci|prod""#).unwrap()
    }

    /// Every selector of the confined query carries the scope matcher.
    fn all_confined(q: &str) -> bool {
        fn walk(e: &Expr, ok: &mut bool) {
            let has = |m: &promql_parser::label::Matchers| {
                let sets: Vec<&Vec<Matcher>> = if m.or_matchers.is_empty() {
                    vec![&m.matchers]
                } else {
                    m.or_matchers.iter().collect()
                };
                sets.iter().all(|s| {
                    s.iter()
                        .any(|x| x.name == "namespace" && x.to_string().contains("ci|prod"))
                })
            };
            match e {
                Expr::VectorSelector(v) => *ok &= has(&v.matchers),
                Expr::MatrixSelector(m) => *ok &= has(&m.vs.matchers),
                Expr::Aggregate(a) => {
                    walk(&a.expr, ok);
                    if let Some(p) = &a.param {
                        walk(p, ok);
                    }
                }
                Expr::Unary(u) => walk(&u.expr, ok),
                Expr::Binary(b) => {
                    walk(&b.lhs, ok);
                    walk(&b.rhs, ok);
                }
                Expr::Paren(p) => walk(&p.expr, ok),
                Expr::Subquery(s) => walk(&s.expr, ok),
                Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, ok)),
                _ => {}
            }
        }
        let confined = scope().confine(q).unwrap();
        let parsed = parser::parse(&confined).unwrap();
        let mut ok = true;
        walk(&parsed, &mut ok);
        ok
    }

    #[test]
    fn every_selector_of_any_shape_is_confined() {
        for q in [
            "up",
            r#"kong_http_requests_total{code=~"5.."}"#,
            "sum by (route) (rate(kong_http_requests_total[5m])) / ignoring(code) group_left sum by (route) (rate(kong_http_requests_total[5m]))",
            "max_over_time(rate(x[1m])[10m:1m])",
            "-up offset 5m",
            "topk(3, count_values(\"v\", up))",
            "label_replace(up, \"namespace\", \"prod\", \"\", \"\")",
            "absent(nonexistent{job=\"x\"})",
            "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
        ] {
            assert!(all_confined(q), "{q} -> {}", scope().confine(q).unwrap());
        }
    }

    #[test]
    fn text_that_tries_to_leave_the_scope_is_refused_or_stays_inside() {
        // Closing the selector early, comments, a second statement: not PromQL, refused.
        for q in [
            r#"up{job="a"}} or up{"#,
            "up # namespace",
            "up; up",
            r#"up{job="a"} # }"#,
        ] {
            match scope().confine(q) {
                Err(ScopeError::BadQuery(_)) => {}
                Ok(sent) => assert!(all_confined(q), "{q} sent as {sent}"),
                Err(e) => panic!("{q}: {e}"),
            }
        }
        // A conflicting matcher of its own narrows further, never widens.
        let sent = scope().confine(r#"up{namespace="kube-system"}"#).unwrap();
        assert!(
            sent.contains(r#"namespace="kube-system""#) && sent.contains("ci|prod"),
            "{sent}"
        );
    }

    #[test]
    fn deeply_nested_queries_never_overflow_the_stack() {
        for q in [
            format!("{}m{}", "(".repeat(2200), ")".repeat(2200)),
            format!("{}m", "-".repeat(2200)),
            format!("m{}", " + m".repeat(1812)),
        ] {
            // Confined (or refused), never a crash.
            let _ = scope().confine(&q);
        }
        assert!(
            scope().confine(&"m + ".repeat(5000)).is_err(),
            "over the length cap"
        );
    }

    #[test]
    fn label_sets_and_selectors_follow_the_same_matchers() {
        let s = scope();
        let labels = |ns: &'static str| move |k: &str| (k == "namespace").then_some(ns);
        assert!(s.admits(labels("prod")));
        assert!(!s.admits(labels("prod-2")), "regexes are anchored");
        assert!(!s.admits(|_| None), "an absent label is empty");
        assert_eq!(
            s.selector("").unwrap().as_deref(),
            Some(r#"{namespace=~"ci|prod"}"#)
        );
        assert!(matches!(
            s.selector("rate(up[5m])"),
            Err(ScopeError::NotASelector)
        ));
        assert!(Scope::parse("namespace=").is_err());
        assert!(Scope::parse("").unwrap().is_empty());
        assert_eq!(Scope::default().confine(" up ").unwrap(), "up");
    }
}
